package dev.idempotency.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.idempotency.spi.Acquisition.Acquired;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Collections;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * The store finds the PostgreSQL driver by itself. A WAR in Tomcat carries the driver in
 * {@code WEB-INF/lib}, but Tomcat had {@code DriverManager} scan for drivers at its start, before
 * any webapp was there, so {@code DriverManager} does not know it: this test puts the JVM in the
 * same state by deregistering the driver.
 */
class JdbcStoreDriverTest {

  @Test
  void connectsWhenDriverManagerDoesNotKnowThePostgresDriver() throws SQLException {
    try (PostgresProcess pg = PostgresProcess.start()) {
      deregisterPostgresDrivers();
      try (JdbcStore store =
          JdbcStore.builder().url(pg.jdbcUrl()).user(pg.user()).createSchema(true).build()) {
        assertThat(store.acquire("driver:" + UUID.randomUUID(), "h", Duration.ofSeconds(30),
            Duration.ofHours(1))).isInstanceOf(Acquired.class);
      } finally {
        if (!org.postgresql.Driver.isRegistered()) {
          org.postgresql.Driver.register();
        }
      }
    }
  }

  private static void deregisterPostgresDrivers() throws SQLException {
    if (org.postgresql.Driver.isRegistered()) {
      org.postgresql.Driver.deregister();
    }
    assertThat(Collections.list(DriverManager.getDrivers()))
        .noneMatch(org.postgresql.Driver.class::isInstance);
  }
}
