package dev.idempotency;

import dev.idempotency.memory.MemoryStore;
import dev.idempotency.spi.IdempotencyStore;

class MemoryStoreHttpTest extends IdempotencyFilterHttpContract {

  private final MemoryStore store = new MemoryStore();

  @Override
  protected IdempotencyStore store() {
    return store;
  }
}
