/** No items yet: a Fifo allocates its ring on its first push (most runs' side queues stay empty). */
const NONE: never[] = [];

/** A growable ring buffer: O(1) push and shift without `Array#shift`'s copying. */
export class Fifo<T> {
  #items: (T | undefined)[] = NONE;
  #head = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(item: T): void {
    const capacity = this.#items.length;
    if (this.#length === capacity) {
      const grown: (T | undefined)[] = new Array(capacity === 0 ? 16 : capacity * 2);
      for (let i = 0; i < this.#length; i++) grown[i] = this.#items[(this.#head + i) % capacity];
      this.#items = grown;
      this.#head = 0;
    }
    this.#items[(this.#head + this.#length) % this.#items.length] = item;
    this.#length++;
  }

  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#items.length;
    this.#length--;
    return item;
  }

  clear(): void {
    this.#items = NONE;
    this.#head = 0;
    this.#length = 0;
  }
}
