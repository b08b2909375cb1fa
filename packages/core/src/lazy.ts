/** An async iterable whose iterator comes from `make` (a class: cheaper to make than an object literal with a symbol key). */
export class Lazy<T> implements AsyncIterable<T> {
  readonly #make: () => AsyncIterator<T>;
  constructor(make: () => AsyncIterator<T>) {
    this.#make = make;
  }
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.#make();
  }
}
