package dev.idempotency;

import static dev.idempotency.IdempotencyFilterHttpContract.CLIENT;
import static dev.idempotency.IdempotencyFilterHttpContract.post;
import static dev.idempotency.IdempotencyFilterHttpContract.send;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.idempotency.memory.MemoryStore;
import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.StoreException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** SPEC §10: the meters say what happened on paths away from the usual ones. */
class MetersOnEveryPathTest {

  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final TestApp app = new TestApp();

  private double outcome(String label) {
    return registry.get("idempotency.requests").tag("outcome", label).counter().count();
  }

  private double inFlight() {
    return registry.get("idempotency.inflight").gauge().value();
  }

  // The acquire timer timed the handler too when the store failed in fail-open mode.
  @Test
  void aFailedAcquireIsTimedAloneNotWithTheHandlerThatRunsAfterIt() throws Exception {
    IdempotencyStore down = new ForwardingStore(new MemoryStore()) {
      @Override
      public Acquisition acquire(String k, String h, Duration l, Duration r) {
        throw new StoreException("memory", "connection refused", null);
      }
    };
    try (JettyServer server = JettyServer.start(IdempotencyFilter.builder(down)
        .listener(new MicrometerListener(registry)).build(), app)) {
      CompletableFuture<HttpResponse<Void>> held = CLIENT.sendAsync(
          post(server.uri("/echo?hold=1"), "k1", "{}").build(),
          HttpResponse.BodyHandlers.discarding());
      assertThat(app.entered.await(10, TimeUnit.SECONDS)).isTrue();
      assertThat(registry.get("idempotency.store").tag("op", "acquire").timer().count())
          .as("recorded while the handler still runs").isEqualTo(1);
      app.gate.countDown();
      held.get(10, TimeUnit.SECONDS);
      assertThat(outcome("fail_open")).isEqualTo(1);
    }
  }

  // A second listener on one registry got back the first one's gauge, which read the first's
  // count: the second filter's requests were never in flight.
  @Test
  void twoFiltersOnOneRegistryShareTheInFlightGauge() throws Exception {
    IdempotencyFilter first = IdempotencyFilter.builder(new MemoryStore())
        .listener(new MicrometerListener(registry)).build();
    IdempotencyFilter second = IdempotencyFilter.builder(new MemoryStore())
        .listener(new MicrometerListener(registry)).build();
    try (JettyServer server = JettyServer.start(second, app)) {
      CompletableFuture<HttpResponse<Void>> held = CLIENT.sendAsync(
          post(server.uri("/echo?hold=1"), "k2", "{}").build(),
          HttpResponse.BodyHandlers.discarding());
      assertThat(app.entered.await(10, TimeUnit.SECONDS)).isTrue();
      assertThat(inFlight()).isEqualTo(1.0);
      app.gate.countDown();
      held.get(10, TimeUnit.SECONDS);
      assertThat(inFlight()).isZero();
    } finally {
      first.destroy();
    }
  }

  // Jetty may stop a context without completing an open async request: its run never
  // finished, and the gauge kept it for good.
  @Test
  void aFilterDestroyedUnderAnOpenAsyncRequestLeavesNothingInFlight() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    HttpServlet neverCompletes = new HttpServlet() {
      @Override
      protected void service(HttpServletRequest req, HttpServletResponse resp) {
        req.startAsync().setTimeout(0);
        started.countDown();
      }
    };
    IdempotencyFilter filter = IdempotencyFilter.builder(new MemoryStore())
        .listener(new MicrometerListener(registry)).build();
    EmbeddedContainer jetty = EmbeddedContainer.start(EmbeddedContainer.Kind.JETTY, filter,
        new EmbeddedContainer.App().servlet("/*", neverCompletes));
    try (Socket socket = new Socket("127.0.0.1", jetty.port())) {
      socket.getOutputStream().write(EmbeddedContainer.post("/x", "k3", "application/json", "{}")
          .getBytes(StandardCharsets.ISO_8859_1));
      assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
      assertThat(inFlight()).isEqualTo(1.0);
      filter.destroy(); // as the container does when it stops, whether or not it completes
      assertThat(inFlight()).isZero();
      jetty.close();
    }
    await().atMost(Duration.ofSeconds(5)).until(() -> inFlight() == 0);
  }

  // With idempotency.enabled=false, protected traffic ran unprotected and uncounted.
  @Test
  void aDisabledFilterCountsWhatItLetsThroughAsBypassed() throws Exception {
    try (JettyServer server = JettyServer.start(IdempotencyFilter.builder(new MemoryStore())
        .enabled(false).listener(new MicrometerListener(registry)).build(), app)) {
      send(post(server.uri("/echo"), "k4", "{}"));
      send(HttpRequest.newBuilder(server.uri("/echo")).GET());
      assertThat(app.executions).hasValue(1);
      assertThat(outcome("bypassed")).as("the covered POST, not the GET").isEqualTo(1);
    }
  }
}
