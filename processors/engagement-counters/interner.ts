// Each user id string is kept once per partition and referred to by a small integer, so a post's
// likers are a set of integers (4 bytes or one bit each) instead of a set of strings.

export class IdInterner {
  private readonly ids = new Map<string, number>();

  get size(): number {
    return this.ids.size;
  }

  /** The id of `name`, assigning the next one on first sight. */
  intern(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) this.ids.set(name, (id = this.ids.size));
    return id;
  }

  /** The id of `name` if it was ever interned. */
  lookup(name: string): number | undefined {
    return this.ids.get(name);
  }
}
