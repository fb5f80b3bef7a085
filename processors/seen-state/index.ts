// Seen-state and story tray: see seen-state.ts for the rules, keys.ts for the views and the tray's
// round trips, tray.ts for how serving assembles a viewer's tray.
export * from './keys.ts';
export { createSeenState, type SeenState } from './seen-state.ts';
export { buildStoryTray, trayCandidates, type TrayAuthor, type TrayInputs, type TrayStory } from './tray.ts';
