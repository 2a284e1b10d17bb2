package dev.idempotency;

import static dev.idempotency.IdempotencyFilterHttpContract.post;
import static dev.idempotency.IdempotencyFilterHttpContract.send;
import static dev.idempotency.IdempotencyFilterHttpContract.text;
import static org.assertj.core.api.Assertions.assertThat;

import dev.idempotency.IdempotencyConfig.FailMode;
import dev.idempotency.IdempotencyConfig.KeyFormat;
import dev.idempotency.IdempotencyConfig.KeyMode;
import dev.idempotency.memory.MemoryStore;
import dev.idempotency.spi.Acquisition;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.RecordInfo;
import dev.idempotency.spi.StoreException;
import dev.idempotency.spi.StoredResponse;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Filter behaviour that does not depend on the store: keys, modes, switches, fail modes. */
class IdempotencyFilterTest {

  private final TestApp app = new TestApp();
  private final Map<Outcome, AtomicInteger> outcomes = new ConcurrentHashMap<>();
  private final IdempotencyListener counting = new IdempotencyListener() {
    @Override
    public void outcome(Outcome outcome) {
      outcomes.computeIfAbsent(outcome, o -> new AtomicInteger()).incrementAndGet();
    }
  };
  private JettyServer server;

  @AfterEach
  void stop() throws Exception {
    System.clearProperty("idempotency.enabled");
    System.clearProperty("idempotency.rollout.percent");
    if (server != null) {
      server.close();
    }
  }

  private JettyServer start(IdempotencyStore store, UnaryOperator<IdempotencyFilter.Builder> b)
      throws Exception {
    server = JettyServer.start(b.apply(IdempotencyFilter.builder(store).listener(counting))
        .build(), app);
    return server;
  }

  private JettyServer start(UnaryOperator<IdempotencyFilter.Builder> b) throws Exception {
    return start(new MemoryStore(), b);
  }

  private int count(Outcome outcome) {
    AtomicInteger n = outcomes.get(outcome);
    return n == null ? 0 : n.get();
  }

  private HttpResponse<byte[]> sendWithKeyHeaders(JettyServer s, String... keys) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(s.uri("/echo"))
        .POST(HttpRequest.BodyPublishers.ofString("{}"));
    for (String key : keys) {
      b.header("Idempotency-Key", key);
    }
    return send(b);
  }

  @Test
  void invalidKeysAre400ProblemsThatNeverEchoTheKey() throws Exception {
    JettyServer s = start(b -> b);
    String secret = "sekret-" + UUID.randomUUID();
    List<HttpResponse<byte[]>> bad = List.of(
        sendWithKeyHeaders(s, secret, secret + "2"),
        sendWithKeyHeaders(s, "\"\""),
        sendWithKeyHeaders(s, "x".repeat(256)),
        sendWithKeyHeaders(s, "\"" + secret + " with space\""),
        sendWithKeyHeaders(s, "\"" + secret + "\\n\""),
        sendWithKeyHeaders(s, "\"" + secret));
    for (HttpResponse<byte[]> r : bad) {
      assertThat(r.statusCode()).as("case %d", bad.indexOf(r)).isEqualTo(400);
      assertThat(r.headers().firstValue("Content-Type")).contains("application/problem+json");
      assertThat(text(r)).contains(Problem.TYPE_PREFIX + "invalid-key").doesNotContain(secret);
    }
    assertThat(app.executions).hasValue(0);
    assertThat(count(Outcome.INVALID)).isEqualTo(bad.size());
    assertThat(sendWithKeyHeaders(s, "x".repeat(255)).statusCode()).isEqualTo(201);
  }

  @Test
  void uuidFormatRejectsOtherKeys() throws Exception {
    JettyServer s = start(b -> b.keyFormat(KeyFormat.UUID));
    assertThat(sendWithKeyHeaders(s, "order-42").statusCode()).isEqualTo(400);
    assertThat(sendWithKeyHeaders(s, UUID.randomUUID().toString()).statusCode()).isEqualTo(201);
  }

  @Test
  void requiredModeRejectsAMissingKey() throws Exception {
    JettyServer s = start(b -> b.keyMode(KeyMode.REQUIRED));
    HttpResponse<byte[]> r = send(post(s.uri("/echo"), null, "{}"));
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(text(r)).contains(Problem.TYPE_PREFIX + "key-required");
    assertThat(app.executions).hasValue(0);
  }

  @Test
  void keyOnlyModePassesKeylessRequestsThroughUnprotected() throws Exception {
    JettyServer s = start(b -> b.keyMode(KeyMode.KEY_ONLY));
    send(post(s.uri("/echo"), null, "{}"));
    send(post(s.uri("/echo"), null, "{}"));
    assertThat(app.executions).hasValue(2);
    assertThat(count(Outcome.BYPASSED)).isEqualTo(2);
  }

  @Test
  void uncoveredMethodsAndPathsPassStraightThrough() throws Exception {
    JettyServer s = start(b -> b.excludePaths("/status"));
    String key = UUID.randomUUID().toString();
    send(post(s.uri("/status?code=200"), key, "{}"));
    send(post(s.uri("/status?code=200"), key, "{}"));
    HttpResponse<byte[]> put = send(HttpRequest.newBuilder(s.uri("/echo"))
        .header("Idempotency-Key", key).PUT(HttpRequest.BodyPublishers.ofString("{}")));
    send(HttpRequest.newBuilder(s.uri("/echo"))
        .header("Idempotency-Key", key).PUT(HttpRequest.BodyPublishers.ofString("{}")));
    assertThat(put.statusCode()).isEqualTo(201);
    assertThat(app.executions).hasValue(4);
  }

  @Test
  void includePatternLimitsCoverage() throws Exception {
    JettyServer s = start(b -> b.includePaths("/api/*"));
    String key = UUID.randomUUID().toString();
    send(post(s.uri("/echo"), key, "{}"));
    send(post(s.uri("/echo"), key, "{}"));
    send(post(s.uri("/api/pay"), key, "{}"));
    send(post(s.uri("/api/pay"), key, "{}"));
    assertThat(app.executions).hasValue(3);
  }

  @Test
  void callersWithDifferentAuthorizationNeverShareAKey() throws Exception {
    JettyServer s = start(b -> b);
    String key = UUID.randomUUID().toString();
    HttpResponse<byte[]> alice = send(post(s.uri("/echo"), key, "{}")
        .header("Authorization", "Bearer alice"));
    HttpResponse<byte[]> bob = send(post(s.uri("/echo"), key, "{}")
        .header("Authorization", "Bearer bob"));
    HttpResponse<byte[]> aliceAgain = send(post(s.uri("/echo"), key, "{}")
        .header("Authorization", "Bearer alice"));
    assertThat(bob.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).isEmpty();
    assertThat(aliceAgain.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER))
        .contains("true");
    assertThat(alice.headers().firstValue("X-Execution")).contains("1");
    assertThat(app.executions).hasValue(2);
  }

  @Test
  void scopeHeaderSeparatesTenants() throws Exception {
    JettyServer s = start(b -> b.scopeHeader("X-Tenant-Id"));
    String key = UUID.randomUUID().toString();
    send(post(s.uri("/echo"), key, "{}").header("X-Tenant-Id", "a"));
    send(post(s.uri("/echo"), key, "{}").header("X-Tenant-Id", "b"));
    send(post(s.uri("/echo"), key, "{}").header("X-Tenant-Id", "a"));
    assertThat(app.executions).hasValue(2);
  }

  @Test
  void storeKeysHoldNoCallerText() throws Exception {
    MemoryStore store = new MemoryStore();
    JettyServer s = start(store, b -> b);
    String key = "customer-42-order-7";
    send(post(s.uri("/echo"), key, "{}"));
    List<RecordInfo> none = store.inFlightOlderThan(Duration.ZERO, 10);
    assertThat(none).isEmpty();
    Optional<RecordInfo> record = store.inspect(IdempotencyFilterTestAccess.storeKeyOf(key));
    assertThat(record).isPresent();
    assertThat(record.get().key()).matches("[0-9a-f]{64}").doesNotContain("customer");
  }

  @Test
  void ignoredFieldsDoNotMakeKeylessDuplicatesDiffer() throws Exception {
    JettyServer s = start(b -> b.ignoreFields("/timestamp", "/meta/nonce")
        .fingerprintWindow(Duration.ofSeconds(30)));
    send(post(s.uri("/share"), null, "{\"item\":1,\"timestamp\":1,\"meta\":{\"nonce\":\"a\"}}"));
    HttpResponse<byte[]> dup = send(
        post(s.uri("/share"), null, "{\"item\":1,\"timestamp\":2,\"meta\":{\"nonce\":\"b\"}}"));
    assertThat(dup.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    send(post(s.uri("/share"), null, "{\"item\":2,\"timestamp\":2}"));
    assertThat(app.executions).hasValue(2);
  }

  @Test
  void keylessRequestsAfterTheWindowExecuteAgain() throws Exception {
    JettyServer s = start(b -> b.fingerprintWindow(Duration.ofMillis(100)));
    send(post(s.uri("/share"), null, "{\"item\":1}"));
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5))
        .pollInterval(Duration.ofMillis(20))
        .until(() -> send(post(s.uri("/share"), null, "{\"item\":1}"))
            .headers().firstValue(IdempotencyFilter.REPLAYED_HEADER).isEmpty());
    assertThat(app.executions).hasValue(2);
  }

  @Test
  void featureFlagIsReadPerRequest() throws Exception {
    JettyServer s = start(b -> b);
    String key = UUID.randomUUID().toString();
    System.setProperty("idempotency.enabled", "false");
    send(post(s.uri("/echo"), key, "{}"));
    send(post(s.uri("/echo"), key, "{}"));
    assertThat(app.executions).hasValue(2);
    System.setProperty("idempotency.enabled", "true");
    send(post(s.uri("/echo"), key, "{}"));
    HttpResponse<byte[]> replay = send(post(s.uri("/echo"), key, "{}"));
    assertThat(replay.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    assertThat(app.executions).hasValue(3);
  }

  // SPEC §9: the property is read per request; cleared, the decision is the init-param's (or
  // the builder's) again, not the property's value at start-up.
  @Test
  void clearingTheRunTimeSwitchesHandsTheDecisionBack() throws Exception {
    System.setProperty("idempotency.enabled", "false");
    System.setProperty("idempotency.rollout.percent", "0");
    try {
      JettyServer s = start(b -> b.enabled(true).rolloutPercent(100));
      System.clearProperty("idempotency.enabled");
      String key = UUID.randomUUID().toString();
      send(post(s.uri("/echo"), key, "{}"));
      assertThat(app.executions).as("still outside the rollout").hasValue(1);
      System.clearProperty("idempotency.rollout.percent");
      send(post(s.uri("/echo"), key, "{}"));
      HttpResponse<byte[]> replay = send(post(s.uri("/echo"), key, "{}"));
      assertThat(replay.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
      assertThat(app.executions).hasValue(2);
    } finally {
      System.clearProperty("idempotency.enabled");
      System.clearProperty("idempotency.rollout.percent");
    }
  }

  @Test
  void rolloutIsStickyPerKey() throws Exception {
    JettyServer s = start(b -> b.rolloutPercent(50));
    int protectedKeys = 0;
    for (int i = 0; i < 40; i++) {
      String key = "rollout-" + i;
      int before = app.executions.get();
      for (int attempt = 0; attempt < 3; attempt++) {
        send(post(s.uri("/echo"), key, "{}"));
      }
      int ran = app.executions.get() - before;
      // Every retry of a key gets the same decision: once if protected, every time if not.
      assertThat(ran).isIn(1, 3);
      if (ran == 1) {
        protectedKeys++;
      }
    }
    assertThat(protectedKeys).isBetween(5, 35);
    System.setProperty("idempotency.rollout.percent", "0");
    String key = UUID.randomUUID().toString();
    send(post(s.uri("/echo"), key, "{}"));
    send(post(s.uri("/echo"), key, "{}"));
    assertThat(count(Outcome.BYPASSED)).isGreaterThanOrEqualTo(2);
  }

  /**
   * SPEC §5 lease renewal: a running owner is renewed again and again; once it has finished, or
   * once the store says it lost the lock, it is not renewed any more.
   */
  @Test
  void renewalsRunWhileTheOwnerRunsAndStopWhenItEndsOrLosesTheLock() throws Exception {
    java.util.concurrent.atomic.AtomicInteger renewals =
        new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicBoolean lost =
        new java.util.concurrent.atomic.AtomicBoolean();
    IdempotencyStore counting = new ForwardingStore(new MemoryStore()) {
      @Override
      public boolean renew(String k, long t, Duration l) {
        renewals.incrementAndGet();
        return !lost.get() && super.renew(k, t, l);
      }
    };
    JettyServer s = start(counting, b -> b.lockTimeout(Duration.ofMillis(300)));
    holdUntilRenewedThrice(s, renewals);
    int afterFinish = renewals.get();
    org.awaitility.Awaitility.await().during(Duration.ofMillis(400))
        .atMost(Duration.ofSeconds(2)).until(() -> renewals.get() == afterFinish);

    app.gate = new java.util.concurrent.CountDownLatch(1);
    app.entered = new java.util.concurrent.CountDownLatch(1);
    lost.set(true);
    var losing = IdempotencyFilterHttpContract.CLIENT.sendAsync(
        post(s.uri("/echo?hold=1"), UUID.randomUUID().toString(), "{}").build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(app.entered.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5))
        .until(() -> renewals.get() == afterFinish + 1);
    org.awaitility.Awaitility.await().during(Duration.ofMillis(400))
        .atMost(Duration.ofSeconds(2)).until(() -> renewals.get() == afterFinish + 1);
    app.gate.countDown();
    losing.get(10, java.util.concurrent.TimeUnit.SECONDS);
  }

  /** A store that throws from renew (a bug, not a StoreException) does not end the sweep. */
  @Test
  void aRenewalThatThrowsDoesNotStopTheRenewals() throws Exception {
    java.util.concurrent.atomic.AtomicInteger renewals =
        new java.util.concurrent.atomic.AtomicInteger();
    IdempotencyStore throwing = new ForwardingStore(new MemoryStore()) {
      @Override
      public boolean renew(String k, long t, Duration l) {
        renewals.incrementAndGet();
        throw new IllegalStateException("a store bug");
      }
    };
    JettyServer s = start(throwing, b -> b.lockTimeout(Duration.ofMillis(300)));
    holdUntilRenewedThrice(s, renewals);
  }

  /** For a store call held by the test: says it got here, then waits until it may go on. */
  private static void arriveAndWait(java.util.concurrent.CountDownLatch arrived,
      java.util.concurrent.CountDownLatch mayGoOn) {
    arrived.countDown();
    try {
      mayGoOn.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Holds one request in its handler until its lock was renewed three times, then ends it. */
  private void holdUntilRenewedThrice(JettyServer s,
      java.util.concurrent.atomic.AtomicInteger renewals) throws Exception {
    var held = IdempotencyFilterHttpContract.CLIENT.sendAsync(
        post(s.uri("/echo?hold=1"), UUID.randomUUID().toString(), "{}").build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(app.entered.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5))
        .until(() -> renewals.get() >= 3);
    app.gate.countDown();
    assertThat(held.get(10, java.util.concurrent.TimeUnit.SECONDS).statusCode()).isEqualTo(201);
  }

  /** A store whose backend is down: every call fails as a real client's would. */
  private static final class DownStore implements IdempotencyStore {
    @Override
    public Acquisition acquire(String k, String h, Duration l, Duration r) {
      throw new StoreException("down", "connection refused", null);
    }

    @Override
    public boolean complete(String k, long t, StoredResponse r, Duration d) {
      throw new StoreException("down", "connection refused", null);
    }

    @Override
    public boolean release(String k, long t) {
      throw new StoreException("down", "connection refused", null);
    }

    @Override
    public boolean renew(String k, long t, Duration l) {
      throw new StoreException("down", "connection refused", null);
    }

    @Override
    public Optional<RecordInfo> inspect(String k) {
      throw new StoreException("down", "connection refused", null);
    }

    @Override
    public boolean purge(String k) {
      throw new StoreException("down", "connection refused", null);
    }

    @Override
    public List<RecordInfo> inFlightOlderThan(Duration d, int l) {
      throw new StoreException("down", "connection refused", null);
    }

    @Override
    public String name() {
      return "down";
    }
  }

  @Test
  void failOpenExecutesUnprotectedAndCountsIt() throws Exception {
    JettyServer s = start(new DownStore(), b -> b.failMode(FailMode.OPEN));
    String key = UUID.randomUUID().toString();
    HttpResponse<byte[]> r = send(post(s.uri("/echo"), key, "{\"a\":1}"));
    send(post(s.uri("/echo"), key, "{\"a\":1}"));
    assertThat(r.statusCode()).isEqualTo(201);
    assertThat(text(r)).isEqualTo("{\"a\":1}");
    assertThat(app.executions).hasValue(2);
    assertThat(count(Outcome.FAIL_OPEN)).isEqualTo(2);
  }

  @Test
  void failClosedAnswers503WithRetryAfter() throws Exception {
    JettyServer s = start(new DownStore(), b -> b.failMode(FailMode.CLOSED));
    HttpResponse<byte[]> r = send(post(s.uri("/echo"), UUID.randomUUID().toString(), "{}"));
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.headers().firstValue("Retry-After")).isPresent();
    assertThat(text(r)).contains(Problem.TYPE_PREFIX + "store-unavailable");
    assertThat(app.executions).hasValue(0);
    assertThat(count(Outcome.FAIL_CLOSED)).isEqualTo(1);
  }

  /** Completes fail while the store is "down", then work again. */
  @Test
  void failedCompleteIsRetriedInTheBackgroundWithTheSameToken() throws Exception {
    MemoryStore memory = new MemoryStore();
    java.util.concurrent.atomic.AtomicBoolean down = new java.util.concurrent.atomic.AtomicBoolean();
    AtomicInteger retried = new AtomicInteger();
    IdempotencyStore flaky = new ForwardingStore(memory) {
      @Override
      public boolean complete(String k, long t, StoredResponse r, Duration d) {
        if (down.getAndSet(false)) {
          throw new StoreException("flaky", "timeout", null);
        }
        return super.complete(k, t, r, d);
      }
    };
    server = JettyServer.start(IdempotencyFilter.builder(flaky).listener(new IdempotencyListener() {
      @Override
      public void completeRetried(boolean succeeded) {
        if (succeeded) {
          retried.incrementAndGet();
        }
      }
    }).build(), app);
    String key = UUID.randomUUID().toString();
    down.set(true);
    HttpResponse<byte[]> first = send(post(server.uri("/echo"), key, "{}"));
    assertThat(first.statusCode()).isEqualTo(201);
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).untilAtomic(retried,
        org.hamcrest.Matchers.equalTo(1));
    HttpResponse<byte[]> replay = send(post(server.uri("/echo"), key, "{}"));
    assertThat(replay.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    assertThat(app.executions).hasValue(1);
  }

  /**
   * A store call that times out may have applied: the retry then finds no claim to complete or
   * release, and that is the work done, not a response lost.
   */
  @Test
  void aRetryAfterACallThatTimedOutButAppliedCountsAsSucceeded() throws Exception {
    java.util.concurrent.atomic.AtomicBoolean timeOut =
        new java.util.concurrent.atomic.AtomicBoolean();
    IdempotencyStore appliesThenTimesOut = new ForwardingStore(new MemoryStore()) {
      @Override
      public boolean complete(String k, long t, StoredResponse r, Duration d) {
        boolean done = super.complete(k, t, r, d);
        if (timeOut.getAndSet(false)) {
          throw new StoreException("slow", "timeout", null);
        }
        return done;
      }

      @Override
      public boolean release(String k, long t) {
        boolean done = super.release(k, t);
        if (timeOut.getAndSet(false)) {
          throw new StoreException("slow", "timeout", null);
        }
        return done;
      }
    };
    AtomicInteger succeeded = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    server = JettyServer.start(IdempotencyFilter.builder(appliesThenTimesOut)
        .listener(new IdempotencyListener() {
          @Override
          public void completeRetried(boolean ok) {
            (ok ? succeeded : failed).incrementAndGet();
          }
        }).build(), app);

    String key = UUID.randomUUID().toString();
    timeOut.set(true);
    assertThat(send(post(server.uri("/echo"), key, "{}")).statusCode()).isEqualTo(201);
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
        .until(() -> succeeded.get() + failed.get() == 1);
    assertThat(succeeded).hasValue(1);
    HttpResponse<byte[]> replay = send(post(server.uri("/echo"), key, "{}"));
    assertThat(replay.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");

    String failing = UUID.randomUUID().toString();
    timeOut.set(true);
    assertThat(send(post(server.uri("/status?code=503"), failing, "{}")).statusCode())
        .isEqualTo(503);
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
        .until(() -> succeeded.get() + failed.get() == 2);
    assertThat(succeeded).hasValue(2);
    assertThat(failed).hasValue(0);
    assertThat(app.executions).hasValue(2);
  }

  /** A memory store whose {@code complete} waits for the test, once it arrived. */
  private static IdempotencyStore completingOnlyWhenLetGo(
      java.util.concurrent.CountDownLatch completing,
      java.util.concurrent.CountDownLatch mayComplete) {
    return new ForwardingStore(new MemoryStore()) {
      @Override
      public boolean complete(String k, long t, StoredResponse r, Duration d) {
        arriveAndWait(completing, mayComplete);
        return super.complete(k, t, r, d);
      }
    };
  }

  /**
   * A response that declares its length, or closes its stream, ends only once it is stored: a
   * client never holds the whole response while its key is still in flight.
   */
  @Test
  void responseEndsOnlyAfterItIsStored() throws Exception {
    java.util.concurrent.CountDownLatch completing = new java.util.concurrent.CountDownLatch(2);
    java.util.concurrent.CountDownLatch mayComplete = new java.util.concurrent.CountDownLatch(1);
    server = JettyServer.start(
        IdempotencyFilter.builder(completingOnlyWhenLetGo(completing, mayComplete)).build(), app);
    String lengthKey = UUID.randomUUID().toString();
    String closedKey = UUID.randomUUID().toString();
    var sized = IdempotencyFilterHttpContract.CLIENT.sendAsync(
        post(server.uri("/length"), lengthKey, "{}").build(), HttpResponse.BodyHandlers.ofString());
    var closed = IdempotencyFilterHttpContract.CLIENT.sendAsync(
        post(server.uri("/closed"), closedKey, "{}").build(), HttpResponse.BodyHandlers.ofString());
    assertThat(completing.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();

    // Both handlers are done and their stores are blocked: neither response may have ended.
    org.awaitility.Awaitility.await().during(Duration.ofMillis(300))
        .atMost(Duration.ofSeconds(5)).until(() -> !sized.isDone() && !closed.isDone());
    mayComplete.countDown();

    assertThat(sized.get(10, java.util.concurrent.TimeUnit.SECONDS).body())
        .matches("fixed length [12]");
    assertThat(closed.get(10, java.util.concurrent.TimeUnit.SECONDS).body()).startsWith("closed ");
    HttpResponse<byte[]> retry = send(post(server.uri("/length"), lengthKey, "{}"));
    assertThat(retry.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    assertThat(app.executions).hasValue(2);
  }

  /**
   * A retry that saw the record in flight just before the owner stored it, and looks at the
   * owner's run just after the run is gone, is still replayed: the run is looked up before the
   * store is asked.
   */
  @Test
  void retryThatSawInFlightJustBeforeTheOwnerFinishedIsReplayed() throws Exception {
    java.util.concurrent.CountDownLatch retrySawInFlight = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch retryMayGoOn = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.atomic.AtomicBoolean pauseInFlight =
        new java.util.concurrent.atomic.AtomicBoolean();
    IdempotencyStore pausing = new ForwardingStore(new MemoryStore()) {
      @Override
      public Acquisition acquire(String k, String h, Duration l, Duration r) {
        Acquisition answer = super.acquire(k, h, l, r);
        if (answer instanceof Acquisition.InFlight && pauseInFlight.compareAndSet(true, false)) {
          arriveAndWait(retrySawInFlight, retryMayGoOn);
        }
        return answer;
      }
    };
    server = JettyServer.start(IdempotencyFilter.builder(pausing).build(), app);
    String key = UUID.randomUUID().toString();
    HttpResponse<byte[]> first = send(post(server.uri("/async-ended"), key, "{}"));
    assertThat(first.statusCode()).isEqualTo(202);

    pauseInFlight.set(true);
    java.net.http.HttpClient other = java.net.http.HttpClient.newBuilder()
        .version(java.net.http.HttpClient.Version.HTTP_1_1).build();
    var retry = other.sendAsync(post(server.uri("/async-ended"), key, "{}").build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertThat(retrySawInFlight.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    app.gate.countDown();
    assertThat(app.asyncEndedCompleted.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    retryMayGoOn.countDown();

    HttpResponse<byte[]> replay = retry.get(10, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(replay.statusCode()).isEqualTo(202);
    assertThat(replay.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    assertThat(replay.body()).isEqualTo(first.body());
    assertThat(app.executions).hasValue(1);
  }

  /**
   * An async handler that writes its whole declared body and flushes while the filter thread
   * returns and sends the byte it held back: both reach the container's output one at a time,
   * and every response arrives whole.
   */
  @Test
  void asyncBodyFlushedWhileTheFilterReturnsArrivesWhole() throws Exception {
    start(b -> b);
    for (int round = 0; round < 60; round++) {
      String key = UUID.randomUUID().toString();
      HttpResponse<String> response = IdempotencyFilterHttpContract.CLIENT.send(
          post(server.uri("/async-sized"), key, "{}").timeout(Duration.ofSeconds(10)).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(response.statusCode()).as("round %d", round).isEqualTo(202);
      assertThat(response.body()).as("round %d", round).startsWith("sized ");
    }
    assertThat(app.executions).hasValue(60);
  }

  /**
   * An async request ended by {@code dispatch()}: the container ends the response, then the
   * filter stores it. A retry in that instant waits for the store write instead of a 409.
   */
  @Test
  void retryOfAResponseEndedByAsyncDispatchWaitsForItsStoreWrite() throws Exception {
    java.util.concurrent.CountDownLatch completing = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch mayComplete = new java.util.concurrent.CountDownLatch(1);
    server = JettyServer.start(
        IdempotencyFilter.builder(completingOnlyWhenLetGo(completing, mayComplete)).build(), app);
    String key = UUID.randomUUID().toString();
    var first = IdempotencyFilterHttpContract.CLIENT.sendAsync(
        post(server.uri("/async-dispatch"), key, "{}").build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(completing.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();

    java.net.http.HttpClient other = java.net.http.HttpClient.newBuilder()
        .version(java.net.http.HttpClient.Version.HTTP_1_1).build();
    var retry = other.sendAsync(post(server.uri("/async-dispatch"), key, "{}").build(),
        HttpResponse.BodyHandlers.ofString());
    org.awaitility.Awaitility.await().during(Duration.ofMillis(200))
        .atMost(Duration.ofSeconds(5)).until(() -> !retry.isDone());
    mayComplete.countDown();

    assertThat(first.get(10, java.util.concurrent.TimeUnit.SECONDS).body())
        .isEqualTo("dispatched after execution 1");
    HttpResponse<String> replay = retry.get(10, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(replay.statusCode()).isEqualTo(202);
    assertThat(replay.body()).isEqualTo("dispatched after execution 1");
    assertThat(replay.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    assertThat(app.executions).hasValue(1);
  }

  /**
   * An async handler whose client already has the whole response but which has not completed
   * yet: a retry waits for the store write and is replayed, instead of a 409.
   */
  @org.junit.jupiter.api.RepeatedTest(3)
  void retryOfAnEndedButUncompletedAsyncResponseIsReplayed() throws Exception {
    start(b -> b);
    String key = UUID.randomUUID().toString();
    HttpResponse<byte[]> first = send(post(server.uri("/async-ended"), key, "{}"));
    assertThat(first.statusCode()).isEqualTo(202);
    assertThat(app.entered.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();

    // Another connection: the container reads the next request of the same one only later.
    java.net.http.HttpClient other = java.net.http.HttpClient.newBuilder()
        .version(java.net.http.HttpClient.Version.HTTP_1_1).build();
    var retry = other.sendAsync(
        post(server.uri("/async-ended"), key, "{}").build(),
        HttpResponse.BodyHandlers.ofByteArray());
    org.awaitility.Awaitility.await().during(Duration.ofMillis(200))
        .atMost(Duration.ofSeconds(5)).until(() -> !retry.isDone());
    app.gate.countDown();

    HttpResponse<byte[]> replay = retry.get(10, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(replay.statusCode()).isEqualTo(202);
    assertThat(replay.body()).isEqualTo(first.body());
    assertThat(replay.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    assertThat(app.executions).hasValue(1);
  }
}
