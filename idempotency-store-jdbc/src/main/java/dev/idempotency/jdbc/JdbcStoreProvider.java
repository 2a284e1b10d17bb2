package dev.idempotency.jdbc;

import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.StoreProvider;
import dev.idempotency.spi.StoreSettings;

/**
 * Builds a {@link JdbcStore} for {@code idempotency.store=jdbc} from {@code idempotency.jdbc.*}.
 * Thread-safe.
 */
public final class JdbcStoreProvider implements StoreProvider {

  @Override
  public String name() {
    return "jdbc";
  }

  @Override
  public IdempotencyStore create(StoreSettings settings) {
    return build(settings);
  }

  static JdbcStore build(StoreSettings settings) {
    return JdbcStore.builder()
        .url(settings.jdbcUrl())
        .user(settings.jdbcUser())
        .password(settings.jdbcPassword())
        .createSchema(settings.jdbcCreateSchema())
        .build();
  }
}
