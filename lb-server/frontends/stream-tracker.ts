/** Something a tracker can end: a long-lived stream of any frontend. */
export interface Closable {
  /** Ends the stream with a status telling the client to reconnect elsewhere. */
  closeForShutdown(): void;
}

/**
 * The set of open long-lived streams, across frontends, so that shutdown can end them all.
 * Frontends add() a stream when it opens and call the returned function when it ends.
 */
export class StreamTracker {
  private readonly open = new Set<Closable>();
  private closing = false;

  /** Tracks `stream`; returns the function that untracks it (idempotent). */
  add(stream: Closable): () => void {
    if (this.closing) {
      stream.closeForShutdown();
      return () => undefined;
    }
    this.open.add(stream);
    return () => {
      this.open.delete(stream);
    };
  }

  /** Ends every open stream and every stream added from now on. Idempotent. */
  closeAll(): void {
    this.closing = true;
    for (const s of [...this.open]) s.closeForShutdown();
    this.open.clear();
  }

  get size(): number {
    return this.open.size;
  }
}
