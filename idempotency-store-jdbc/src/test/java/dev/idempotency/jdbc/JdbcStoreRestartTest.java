package dev.idempotency.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.Acquisition.Acquired;
import dev.idempotency.spi.Acquisition.Completed;
import dev.idempotency.spi.Acquisition.InFlight;
import dev.idempotency.spi.StoreException;
import dev.idempotency.spi.StoredResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class JdbcStoreRestartTest {

  private static final Duration LOCK = Duration.ofSeconds(30);
  private static final Duration RETENTION = Duration.ofHours(1);

  @Test
  void sameStoreInstanceRecoversAfterThePostgresServerIsKilledAndRestarted() {
    try (PostgresProcess pg = PostgresProcess.start();
        JdbcStore store =
            JdbcStore.builder().url(pg.jdbcUrl()).user(pg.user()).createSchema(true).build()) {
      String completed = "restart:" + UUID.randomUUID();
      StoredResponse response =
          new StoredResponse(201, Map.of("X-A", java.util.List.of("1")),
              "before".getBytes(StandardCharsets.UTF_8));
      long token = ((Acquired) store.acquire(completed, "h", LOCK, RETENTION)).token();
      assertThat(store.complete(completed, token, response, RETENTION)).isTrue();
      String inFlight = "restart:" + UUID.randomUUID();
      long inFlightToken = ((Acquired) store.acquire(inFlight, "h", LOCK, RETENTION)).token();

      pg.kill();
      long started = System.nanoTime();
      assertThatThrownBy(() -> store.acquire("restart:" + UUID.randomUUID(), "h", LOCK, RETENTION))
          .isInstanceOf(StoreException.class)
          .hasMessageStartingWith("jdbc: acquire failed");
      // The pool's short connection timeout bounds what a request pays while the server is down.
      assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(3));
      assertThatThrownBy(() -> store.acquire(completed, "h", LOCK, RETENTION))
          .isInstanceOf(StoreException.class);

      pg.startAgain();
      Acquisition[] afterRestart = new Acquisition[1];
      await()
          .atMost(Duration.ofSeconds(30))
          .ignoreExceptionsInstanceOf(StoreException.class)
          .pollInterval(Duration.ofMillis(100))
          .until(() -> (afterRestart[0] = store.acquire(completed, "h", LOCK, RETENTION)) != null);

      assertThat(afterRestart[0]).isEqualTo(new Completed(response));
      assertThat(store.acquire(inFlight, "h", LOCK, RETENTION)).isInstanceOf(InFlight.class);
      assertThat(store.complete(inFlight, inFlightToken, response, RETENTION)).isTrue();
      assertThat(store.acquire("restart:" + UUID.randomUUID(), "h", LOCK, RETENTION))
          .isInstanceOf(Acquired.class);
    }
  }
}
