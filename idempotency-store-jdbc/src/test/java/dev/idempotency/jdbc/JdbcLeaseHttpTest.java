package dev.idempotency.jdbc;

import dev.idempotency.LeaseAcrossInstancesHttpContract;
import dev.idempotency.spi.IdempotencyStore;
import java.sql.SQLException;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** Leases across filter instances and a killed owner JVM (SPEC §5), on a real PostgreSQL. */
class JdbcLeaseHttpTest extends LeaseAcrossInstancesHttpContract {

  private static PostgresProcess pg;

  @BeforeAll
  static void startPostgres() {
    pg = PostgresProcess.start();
    JdbcStore.builder().url(pg.jdbcUrl()).user(pg.user()).createSchema(true).build().close();
  }

  @AfterAll
  static void stopPostgres() {
    pg.close();
  }

  @Override
  protected IdempotencyStore newStore() {
    return JdbcStore.builder().url(pg.jdbcUrl()).user(pg.user()).build();
  }

  @Override
  protected CuttableStore newCuttableStore() {
    return cuttable(pg);
  }

  /** A store on connections of its own that the test can refuse, as an unreachable database. */
  static CuttableStore cuttable(PostgresProcess pg) {
    AtomicBoolean cut = new AtomicBoolean();
    JdbcStore store = JdbcStore.builder().dataSource(new HookedDataSource(pg.dataSource(), () -> {
      if (cut.get()) {
        throw new SQLException("Connection refused (the test cut the database off)", "08001");
      }
    })).build();
    return new CuttableStore() {
      @Override
      public IdempotencyStore store() {
        return store;
      }

      @Override
      public void cut() {
        cut.set(true);
      }

      @Override
      public void restore() {
        cut.set(false);
      }

      @Override
      public void close() {
        store.close();
      }
    };
  }

  @Override
  protected Map<String, String> storeProperties() {
    return Map.of("idempotency.store", "jdbc", "idempotency.jdbc.url", pg.jdbcUrl(),
        "idempotency.jdbc.user", pg.user());
  }
}
