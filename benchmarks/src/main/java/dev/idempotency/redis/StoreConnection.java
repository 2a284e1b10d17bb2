package dev.idempotency.redis;

import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;

/**
 * The command connection of a standalone {@link RedisStore}, so a benchmark's floor runs on the
 * very connection (and event-loop thread) the store's scripts run on.
 */
public final class StoreConnection {

  private StoreConnection() {}

  /** Synchronous commands on {@code store}'s own connection; the store must be standalone. */
  @SuppressWarnings("unchecked")
  public static RedisCommands<String, byte[]> of(RedisStore store) {
    return ((StatefulRedisConnection<String, byte[]>) store.connection()).sync();
  }
}
