package dev.idempotency.jdbc;

import dev.idempotency.IdempotencyFilterHttpContract;
import dev.idempotency.spi.IdempotencyStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The filter's whole HTTP suite (SPEC §5, §6) over embedded Jetty, on a real PostgreSQL. */
class JdbcStoreHttpTest extends IdempotencyFilterHttpContract {

  private static PostgresProcess pg;
  private static JdbcStore store;

  @BeforeAll
  static void startPostgres() {
    pg = PostgresProcess.start();
    store = JdbcStore.builder().url(pg.jdbcUrl()).user(pg.user()).createSchema(true).build();
  }

  @AfterAll
  static void stopPostgres() {
    store.close();
    pg.close();
  }

  @Override
  protected IdempotencyStore store() {
    return store;
  }
}
