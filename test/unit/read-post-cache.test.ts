// The feed's post content cache (serving/read/post-cache.ts): bounded, keeps what is read again,
// separates generations, forgets deleted posts.
import { describe, expect, it } from 'vitest';
import { PostContentCache, type PostContent } from '../../serving/read/post-cache.ts';

const content = (id: string): PostContent =>
  ({ post_id: id, author_id: 'a', created_at: 1, caption: '', hashtags: [], media_type: 'photo' });

describe('PostContentCache', () => {
  it('never holds more than its capacity, and keeps the posts read again', () => {
    const cache = new PostContentCache(100);
    for (let i = 0; i < 1_000; i++) {
      cache.set('g1', `p${i}`, content(`p${i}`));
      if (!cache.get('g1', 'hot')) cache.set('g1', 'hot', content('hot'));
      expect(cache.size).toBeLessThanOrEqual(100);
    }
    expect(cache.get('g1', 'p999')?.post_id).toBe('p999');
    expect(cache.get('g1', 'p0')).toBeUndefined();
    expect(cache.hits).toBeGreaterThan(990); // 'hot' was re-read every time and kept
  });

  it('keys by generation and forgets a deleted post', () => {
    const cache = new PostContentCache(10);
    cache.set('g1', 'p', content('p'));
    expect(cache.get('g2', 'p')).toBeUndefined();
    expect(cache.get('g1', 'p')).toBeDefined();
    cache.delete('g1', 'p');
    expect(cache.get('g1', 'p')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('keeps nothing with capacity 0 and rejects a bad capacity', () => {
    const cache = new PostContentCache(0);
    cache.set('g1', 'p', content('p'));
    expect(cache.get('g1', 'p')).toBeUndefined();
    expect(() => new PostContentCache(-1)).toThrow(/post cache size/);
  });
});
