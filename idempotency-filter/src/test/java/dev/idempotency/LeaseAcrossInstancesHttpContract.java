package dev.idempotency;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.idempotency.IdempotencyConfig.InFlightMode;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.RecordInfo;
import dev.idempotency.spi.StoreException;
import dev.idempotency.spi.StoredResponse;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * SPEC §5 and §6 leases across instances, over real HTTP: each filter runs on a store instance
 * of its own, as filters in separate JVMs do, and one owner runs in a JVM of its own that the
 * test kills. A slow live owner keeps its key; a dead one's is taken over once its lock runs out;
 * an owner cut off from the store past its lock is taken over and its late complete stores
 * nothing. Each store module runs it against its real servers.
 */
public abstract class LeaseAcrossInstancesHttpContract {

  /** Every request goes here: its handler is held until its application's gate opens. */
  private static final String HELD = "/named?hold=1";

  /** Short, so that outliving it takes seconds. */
  protected static final Duration LOCK = Duration.ofSeconds(1);

  private static final HttpClient CLIENT = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5))
      .build();

  /** A store instance whose way to its server(s) the test can cut, as a partition does. */
  protected interface CuttableStore extends AutoCloseable {
    IdempotencyStore store();

    /** Every call from now on fails as an unreachable server's would. */
    void cut();

    /** The server can be reached again. */
    void restore();

    @Override
    void close();
  }

  /** A new instance of the store under test, as another JVM opens it. The test closes it. */
  protected abstract IdempotencyStore newStore();

  /** A new instance of the store under test that the test can cut off. The test closes it. */
  protected abstract CuttableStore newCuttableStore() throws Exception;

  /** The {@code idempotency.*} system properties that open the store under test in a new JVM. */
  protected abstract Map<String, String> storeProperties();

  private final List<AutoCloseable> closing = new ArrayList<>();
  private final List<TestApp> apps = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (TestApp app : apps) {
      app.gate.countDown();
    }
    for (int i = closing.size() - 1; i >= 0; i--) {
      closing.get(i).close();
    }
  }

  /** A filter and the Jetty it runs in. */
  private record Served(IdempotencyFilter filter, JettyServer server) {
    URI uri(String path) {
      return server.uri(path);
    }
  }

  /** A filter on {@code store} with a lock of {@link #LOCK}, in Jetty, before {@code app}. */
  private Served serve(IdempotencyStore store, TestApp app, Counts counts,
      UnaryOperator<IdempotencyFilter.Builder> settings) throws Exception {
    IdempotencyFilter filter = settings.apply(IdempotencyFilter.builder(store)
        .lockTimeout(LOCK).listener(counts)).build();
    JettyServer server = JettyServer.start(filter, app);
    apps.add(app);
    closing.add(store);
    closing.add(filter::destroy);
    closing.add(server);
    return new Served(filter, server);
  }

  /** An application whose handlers are held until the test opens its gate. */
  private static TestApp heldApp(String name) {
    TestApp app = new TestApp();
    app.name = name;
    return app;
  }

  /** An application whose handlers run at once. */
  private static TestApp app(String name) {
    TestApp app = heldApp(name);
    app.gate.countDown();
    return app;
  }

  /** What a filter's listener heard. */
  private static final class Counts implements IdempotencyListener {
    final AtomicInteger staleRecovered = new AtomicInteger();
    final AtomicInteger retriesFailed = new AtomicInteger();
    final AtomicInteger retries = new AtomicInteger();

    @Override
    public void staleRecovered() {
      staleRecovered.incrementAndGet();
    }

    @Override
    public void completeRetried(boolean succeeded) {
      retries.incrementAndGet();
      if (!succeeded) {
        retriesFailed.incrementAndGet();
      }
    }
  }

  private static HttpRequest post(URI base, String path, String key) {
    return HttpRequest.newBuilder(base.resolve(path))
        .timeout(Duration.ofSeconds(30))
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", key)
        .POST(HttpRequest.BodyPublishers.ofString("{\"pay\":1}"))
        .build();
  }

  private static HttpResponse<String> send(URI base, String path, String key) throws Exception {
    return CLIENT.send(post(base, path, key), HttpResponse.BodyHandlers.ofString());
  }

  private static CompletableFuture<HttpResponse<String>> sendAsync(URI base, String path,
      String key) {
    return CLIENT.sendAsync(post(base, path, key), HttpResponse.BodyHandlers.ofString());
  }

  private static boolean replayed(HttpResponse<String> response) {
    return response.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER).isPresent();
  }

  // SPEC §5: a live owner renews its lease, so a slow request is never taken over, not even
  // from another instance that judges the lock by the store alone.
  @Test
  void aSlowOwnerIsNeverTakenOverFromAnotherInstanceAndItsResponseIsReplayedThere()
      throws Exception {
    TestApp ownerApp = heldApp("owner");
    TestApp otherApp = app("other");
    TestApp waitingApp = app("waiting");
    URI owner = serve(newStore(), ownerApp, new Counts(), b -> b).uri("/");
    URI other = serve(newStore(), otherApp, new Counts(), b -> b).uri("/");
    Served waitingServer = serve(newStore(), waitingApp, new Counts(),
        b -> b.inFlight(InFlightMode.WAIT).waitTimeout(Duration.ofSeconds(20)));
    URI waiting = waitingServer.uri("/");
    String key = UUID.randomUUID().toString();

    CompletableFuture<HttpResponse<String>> first = sendAsync(owner, HELD, key);
    assertThat(ownerApp.entered.await(10, TimeUnit.SECONDS)).isTrue();
    Instant entered = Instant.now();
    // For two lock timeouts, every retry on the other instance is refused.
    await().pollInterval(Duration.ofMillis(100)).during(LOCK.multipliedBy(2))
        .atMost(LOCK.multipliedBy(2).plusSeconds(10))
        .until(() -> send(other, HELD, key).statusCode() == 409);
    // A retry that waits is still waiting at three lock timeouts.
    CompletableFuture<HttpResponse<String>> waiter = sendAsync(waiting, HELD, key);
    await().atMost(Duration.ofSeconds(10))
        .until(() -> waitingServer.filter().localWaiters() == 1 || waiter.isDone());
    await().pollInterval(Duration.ofMillis(50))
        .during(Duration.between(Instant.now(), entered.plus(LOCK.multipliedBy(3))))
        .atMost(LOCK.multipliedBy(3).plusSeconds(10))
        .until(() -> !waiter.isDone());

    ownerApp.gate.countDown();
    HttpResponse<String> original = first.get(10, TimeUnit.SECONDS);
    assertThat(original.statusCode()).isEqualTo(201);
    assertThat(original.body()).isEqualTo("answered by owner");
    HttpResponse<String> waited = waiter.get(10, TimeUnit.SECONDS);
    assertThat(waited.statusCode()).isEqualTo(201);
    assertThat(waited.body()).isEqualTo("answered by owner");
    assertThat(replayed(waited)).isTrue();
    HttpResponse<String> retry = send(other, HELD, key);
    assertThat(retry.body()).isEqualTo("answered by owner");
    assertThat(replayed(retry)).isTrue();
    assertThat(ownerApp.executions).hasValue(1);
    assertThat(otherApp.executions).hasValue(0);
    assertThat(waitingApp.executions).hasValue(0);
  }

  // SPEC §5, row 3: an owner whose JVM was SIGKILLed mid-request holds its key until its lock
  // runs out, no longer; a waiting retry takes it over then, not at its wait-timeout.
  @Test
  void aKilledOwnerProcessesKeyIsTakenOverOnceItsLockRunsOut() throws Exception {
    Duration lock = Duration.ofSeconds(2);
    Map<String, String> properties = new LinkedHashMap<>(storeProperties());
    properties.put("idempotency.lock-timeout", lock.toMillis() + "ms");
    TestApp otherApp = app("other");
    TestApp waitingApp = app("waiting");
    Counts otherCounts = new Counts();
    Counts waitingCounts = new Counts();
    URI other = serve(newStore(), otherApp, otherCounts, b -> b.lockTimeout(lock)).uri("/");
    Duration waitTimeout = Duration.ofSeconds(20);
    URI waiting = serve(newStore(), waitingApp, waitingCounts,
        b -> b.lockTimeout(lock).inFlight(InFlightMode.WAIT).waitTimeout(waitTimeout)).uri("/");
    String key = UUID.randomUUID().toString();

    OwnerProcess ownerProcess = OwnerProcess.start(properties);
    closing.add(ownerProcess);
    URI owner = ownerProcess.awaitListening();
    CompletableFuture<HttpResponse<String>> lost = sendAsync(owner, HELD, key);
    ownerProcess.awaitEntered(1);
    ownerProcess.kill();
    Instant killed = Instant.now();
    assertThat(lost).failsWithin(Duration.ofSeconds(10));

    assertThat(send(other, HELD, key).statusCode()).isEqualTo(409);
    CompletableFuture<HttpResponse<String>> waiter = sendAsync(waiting, HELD, key);
    HttpResponse<String> recovered = waiter.get(30, TimeUnit.SECONDS);
    Duration took = Duration.between(killed, Instant.now());
    assertThat(recovered.statusCode()).isEqualTo(201);
    assertThat(recovered.body()).isEqualTo("answered by waiting");
    assertThat(replayed(recovered)).isFalse();
    assertThat(took).as("taken over once the lock ran out, not at the wait-timeout")
        .isLessThan(lock.plus(waitTimeout).dividedBy(2));
    assertThat(waitingCounts.staleRecovered).hasValue(1);

    HttpResponse<String> retry = send(other, HELD, key);
    assertThat(retry.body()).isEqualTo("answered by waiting");
    assertThat(replayed(retry)).isTrue();
    assertThat(otherApp.executions).hasValue(0);
    assertThat(waitingApp.executions).hasValue(1);
    assertThat(otherCounts.staleRecovered).hasValue(0);
  }

  // SPEC §5 and §6: an owner cut off from the store cannot renew; once its lock ran out another
  // instance takes the key over, and the first owner's late complete (the store reachable again,
  // or not) stores nothing over the new owner's response.
  @ParameterizedTest(name = "store reachable again before the late complete: {0}")
  @ValueSource(booleans = {true, false})
  void anOwnerCutOffPastItsLockIsTakenOverAndItsLateCompleteStoresNothing(boolean reachable)
      throws Exception {
    CuttableStore cuttable = newCuttableStore();
    List<Object> completes = new CopyOnWriteArrayList<>();
    IdempotencyStore recording = new ForwardingStore(cuttable.store()) {
      @Override
      public boolean complete(String key, long token, StoredResponse response,
          Duration retention) {
        try {
          boolean done = super.complete(key, token, response, retention);
          completes.add(done);
          return done;
        } catch (StoreException e) {
          completes.add(e);
          throw e;
        }
      }
    };
    closing.add(cuttable);
    TestApp ownerApp = heldApp("owner");
    TestApp otherApp = app("other");
    Counts ownerCounts = new Counts();
    URI owner = serve(recording, ownerApp, ownerCounts, b -> b).uri("/");
    URI other = serve(newStore(), otherApp, new Counts(), b -> b).uri("/");
    String key = UUID.randomUUID().toString();

    CompletableFuture<HttpResponse<String>> first = sendAsync(owner, HELD, key);
    assertThat(ownerApp.entered.await(10, TimeUnit.SECONDS)).isTrue();
    cuttable.cut();
    assertThat(send(other, HELD, key).statusCode()).isEqualTo(409);
    HttpResponse<String> takenOver = await().atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> send(other, HELD, key), response -> response.statusCode() != 409);
    assertThat(takenOver.statusCode()).isEqualTo(201);
    assertThat(takenOver.body()).isEqualTo("answered by other");

    String storeKey = IdempotencyFilterTestAccess.storeKeyOf(key);
    if (reachable) {
      cuttable.restore();
      awaitAnswers(cuttable.store(), storeKey);
    }
    ownerApp.gate.countDown();
    HttpResponse<String> late = first.get(20, TimeUnit.SECONDS);
    assertThat(late.statusCode()).as("the owner's client still gets its response").isEqualTo(201);
    assertThat(late.body()).isEqualTo("answered by owner");
    // Fenced (false), or failed: a store that cannot tell yet whether the claim was taken over
    // (redis+jdbc while Redis's breaker is still open) fails the complete, and the filter's
    // retries with the token end when the lock would have expired.
    assertThat(completes).isNotEmpty().doesNotContain(true);
    cuttable.restore();
    RecordInfo stored = awaitAnswers(cuttable.store(), storeKey);
    assertThat(stored.state()).isEqualTo(RecordInfo.State.COMPLETED);
    assertThat(stored.bodySize()).isEqualTo("answered by other".length());

    for (URI instance : List.of(other, owner)) {
      HttpResponse<String> replay = send(instance, HELD, key);
      assertThat(replayed(replay)).isTrue();
      assertThat(replay.statusCode()).isEqualTo(201);
      assertThat(replay.body()).as("replayed by %s", instance).isEqualTo("answered by other");
    }
    assertThat(ownerApp.executions).hasValue(1);
    assertThat(otherApp.executions).hasValue(1);
  }

  /** What the store holds for a key, once the store answers (its client reconnected). */
  private static RecordInfo awaitAnswers(IdempotencyStore store, String storeKey) {
    return await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
        .pollInterval(Duration.ofMillis(50))
        .until(() -> store.inspect(storeKey).orElseThrow(), info -> true);
  }

  // SPEC §6/§8: the store unreachable while the request runs, past its lock (no renewal gets
  // through): the client still gets its response, and a retry once the store is back gets an
  // answer (the response if it could be stored, else a new execution).
  @Test
  void aStoreUnreachableWhileTheRequestRunsStillAnswersTheClient() throws Exception {
    CuttableStore cuttable = newCuttableStore();
    AtomicInteger renewalsFailed = new AtomicInteger();
    IdempotencyStore recording = new ForwardingStore(cuttable.store()) {
      @Override
      public boolean renew(String key, long token, Duration lockTimeout) {
        try {
          return super.renew(key, token, lockTimeout);
        } catch (StoreException e) {
          renewalsFailed.incrementAndGet();
          throw e;
        }
      }
    };
    closing.add(cuttable);
    TestApp ownerApp = heldApp("owner");
    TestApp otherApp = app("other");
    Counts ownerCounts = new Counts();
    URI owner = serve(recording, ownerApp, ownerCounts, b -> b).uri("/");
    URI other = serve(newStore(), otherApp, new Counts(), b -> b).uri("/");
    String key = UUID.randomUUID().toString();

    CompletableFuture<HttpResponse<String>> first = sendAsync(owner, HELD, key);
    assertThat(ownerApp.entered.await(10, TimeUnit.SECONDS)).isTrue();
    cuttable.cut();
    Instant cut = Instant.now();
    await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(20))
        .until(() -> renewalsFailed.get() >= 2 && Instant.now().isAfter(cut.plus(LOCK)));
    ownerApp.gate.countDown();
    HttpResponse<String> response = first.get(20, TimeUnit.SECONDS);
    assertThat(response.statusCode()).isEqualTo(201);
    assertThat(response.body()).isEqualTo("answered by owner");
    // The complete that could not reach the store is retried in the background and counted
    // (SPEC §8: never silent), whether a retry got through or gave up.
    await().atMost(Duration.ofSeconds(10)).untilAsserted(
        () -> assertThat(ownerCounts.retries).hasValue(1));

    cuttable.restore();
    HttpResponse<String> retry = await().atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> send(other, HELD, key), r -> r.statusCode() != 409);
    assertThat(retry.statusCode()).isEqualTo(201);
    assertThat(retry.body()).isEqualTo(replayed(retry) ? "answered by owner" : "answered by other");
  }
}
