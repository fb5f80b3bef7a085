// Whether each user's account is private now, from profile_updated (event-time last-writer-wins).
// Keyed by the user id string so any processor co-partitioned with `profiles` (posts, trending's
// extractor) can use it as is.
import type { ProfileUpdated } from '../../schemas/events.ts';
import { isOn, isStale, stampOff, stampOn, type Stamp } from './stamps.ts';

export class PrivacyBook {
  private readonly stamps = new Map<string, Stamp>();

  /** Applies the update unless a newer one was seen; returns whether it was applied. */
  update(event: ProfileUpdated): boolean {
    if (isStale(this.stamps.get(event.user_id), event.ts)) return false;
    this.stamps.set(event.user_id, event.is_private ? stampOn(event.ts) : stampOff(event.ts));
    return true;
  }

  isPrivate(user: string): boolean {
    return isOn(this.stamps.get(user));
  }
}
