package dev.idempotency.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.idempotency.IdempotencyConfig.FailMode;
import dev.idempotency.IdempotencyFilter;
import dev.idempotency.JettyServer;
import dev.idempotency.TestApp;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The database stalls (a table lock another session holds) past the store's socket timeout: the
 * client is answered 503, and the claim it sent must not commit later, held by nobody, to answer
 * the retries it was invited to send with 409 for a lock timeout.
 */
class JdbcUnansweredClaimHttpTest {

  private static final HttpClient HTTP = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();

  private static PostgresProcess pg;

  @BeforeAll
  static void startPostgres() {
    pg = PostgresProcess.start();
  }

  @AfterAll
  static void stopPostgres() {
    pg.close();
  }

  // The store's own pool sets a statement_timeout under the socket timeout: the server gives
  // the claim up itself.
  @Test
  void aClaimOnTheStoresOwnPoolIsGivenUpByTheServer() throws Exception {
    try (JdbcStore store = JdbcStore.builder().url(pg.jdbcUrl()).user(pg.user())
        .createSchema(true).socketTimeout(Duration.ofSeconds(1)).purgeInterval(Duration.ZERO)
        .build()) {
      stallThenRetry(store);
    }
  }

  // A pool the application gives has no such setting: the claim that committed after its
  // acquire timed out is released by the store once it shows up.
  @Test
  void aClaimOnAGivenPoolIsReleasedOnceItCommits() throws Exception {
    PGSimpleDataSource given = new PGSimpleDataSource();
    given.setUrl(pg.jdbcUrl());
    given.setUser(pg.user());
    given.setSocketTimeout(1);
    try (JdbcStore store = JdbcStore.builder().dataSource(given).createSchema(true)
        .purgeInterval(Duration.ZERO).build()) {
      stallThenRetry(store);
    }
  }

  private static void stallThenRetry(JdbcStore store) throws Exception {
    TestApp app = new TestApp();
    try (JettyServer server = JettyServer.start(
        IdempotencyFilter.builder(store).failMode(FailMode.CLOSED).build(), app)) {
      HttpRequest post = HttpRequest.newBuilder(server.uri("/echo"))
          .header("Idempotency-Key", UUID.randomUUID().toString())
          .timeout(Duration.ofSeconds(20))
          .POST(HttpRequest.BodyPublishers.ofString("pay 10")).build();
      try (Connection blocker = pg.dataSource().getConnection()) {
        blocker.setAutoCommit(false);
        try (Statement s = blocker.createStatement()) {
          s.execute("LOCK TABLE idempotency_record IN SHARE MODE");
        }
        HttpResponse<String> first = HTTP.send(post, HttpResponse.BodyHandlers.ofString());
        assertThat(first.statusCode()).isEqualTo(503);
        assertThat(first.headers().firstValue("Retry-After")).contains("5");
        blocker.commit(); // an abandoned statement still waiting now runs, and commits
      }
      assertThat(app.executions).hasValue(0);
      // Retried as Retry-After asks, well within the 30 s lock: nothing ever ran for this key.
      await().atMost(Duration.ofSeconds(8)).pollInterval(Duration.ofMillis(500))
          .untilAsserted(() -> {
            HttpResponse<String> retry = HTTP.send(post, HttpResponse.BodyHandlers.ofString());
            assertThat(retry.statusCode()).as("retry (%s); in the table: %s", retry.body(),
                inFlightRows()).isEqualTo(201);
          });
      assertThat(app.executions).hasValue(1);
    }
  }

  private static String inFlightRows() throws SQLException {
    try (Connection c = pg.dataSource().getConnection(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT token, lock_expires_at - now()"
            + " FROM idempotency_record WHERE status IS NULL")) {
      StringBuilder rows = new StringBuilder();
      while (rs.next()) {
        rows.append("[token ").append(rs.getLong(1)).append(", lock left ")
            .append(rs.getString(2)).append("] ");
      }
      return rows.toString();
    }
  }
}
