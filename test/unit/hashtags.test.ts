import { describe, expect, it } from 'vitest';
import { extractHashtags, isHashtagWord, normalizeHashtag } from '../../schemas/hashtags.ts';

describe('hashtag extraction', () => {
  it('finds #words and strips the #', () => {
    expect(extractHashtags('Golden hour #sunset #beach')).toEqual(['sunset', 'beach']);
  });

  it('returns nothing for a caption without #', () => {
    expect(extractHashtags('just a photo')).toEqual([]);
    expect(extractHashtags('')).toEqual([]);
  });

  it('lowercases tags', () => {
    expect(extractHashtags('#SUNSET #SunSet #sunset')).toEqual(['sunset']);
  });

  it('removes duplicates and keeps the order of first appearance', () => {
    expect(extractHashtags('#b #a #b #c #a')).toEqual(['b', 'a', 'c']);
  });

  it('accepts Unicode letters of any script', () => {
    expect(extractHashtags('#東京 #москва #Ελλάδα #القاهرة')).toEqual(['東京', 'москва', 'ελλάδα', 'القاهرة']);
  });

  it('keeps combining marks inside a word (Devanagari vowel signs)', () => {
    expect(extractHashtags('#हिन्दी')).toEqual(['हिन्दी']);
  });

  it('treats NFC and NFD spellings as the same tag, returned in NFC', () => {
    const nfc = 'caf\u00e9';
    const nfd = 'cafe\u0301';
    expect(extractHashtags(`#${nfd} #${nfc}`)).toEqual([nfc]);
    expect(extractHashtags(`#${nfd.toUpperCase()}`)).toEqual([nfc]);
  });

  it('renormalizes after lowercasing (Turkish dotted capital I)', () => {
    const [tag] = extractHashtags('#İstanbul');
    expect(tag).toBe(tag.normalize('NFC'));
    expect(tag).toBe('i\u0307stanbul');
  });

  it('allows digits and underscores in words and words made of digits', () => {
    expect(extractHashtags('#throwback_2019 #1 #_x')).toEqual(['throwback_2019', '1', '_x']);
  });

  it('ends a word at punctuation, emoji and a second #', () => {
    expect(extractHashtags('#summer! #a-b (#paren) #love❤️ #x#y')).toEqual(['summer', 'a', 'paren', 'love', 'x']);
  });

  it('ignores # inside a word: C#, foo#bar', () => {
    expect(extractHashtags('I write C# and foo#bar')).toEqual([]);
  });

  it('reads ##tag as tag', () => {
    expect(extractHashtags('##tag')).toEqual(['tag']);
  });

  it('ignores a lone # and the keycap emoji #️⃣', () => {
    expect(extractHashtags('# nope #️⃣ #')).toEqual([]);
  });

  it('accepts the fullwidth ＃ of CJK keyboards', () => {
    expect(extractHashtags('＃旅行')).toEqual(['旅行']);
  });
});

describe('hashtag words', () => {
  it('isHashtagWord accepts one word and rejects spaces, punctuation and empty', () => {
    expect(isHashtagWord('café')).toBe(true);
    expect(isHashtagWord('two words')).toBe(false);
    expect(isHashtagWord('a-b')).toBe(false);
    expect(isHashtagWord('')).toBe(false);
  });

  it('normalizeHashtag lowercases and composes', () => {
    expect(normalizeHashtag('CAFE\u0301')).toBe('caf\u00e9');
  });
});
