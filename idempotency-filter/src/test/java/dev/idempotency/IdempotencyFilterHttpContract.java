package dev.idempotency;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.idempotency.IdempotencyConfig.InFlightMode;
import dev.idempotency.spi.IdempotencyStore;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The filter over real HTTP in embedded Jetty 12, one test per row of SPEC §5 and per bullet of
 * §6. Each store module re-runs it with its own store by extending this class.
 */
public abstract class IdempotencyFilterHttpContract {

  protected static final HttpClient CLIENT = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5))
      .build();

  protected final TestApp app = new TestApp();
  private JettyServer server;

  /** The store under test; shared by every filter a test class starts. */
  protected abstract IdempotencyStore store();

  @AfterEach
  void stopServer() throws Exception {
    app.gate.countDown();
    app.bigMayFinish.countDown();
    if (server != null) {
      server.close();
    }
  }

  protected JettyServer start(UnaryOperator<IdempotencyFilter.Builder> settings) throws Exception {
    server = JettyServer.start(settings.apply(IdempotencyFilter.builder(store())).build(), app);
    return server;
  }

  protected JettyServer start() throws Exception {
    return start(b -> b);
  }

  protected static String newKey() {
    return UUID.randomUUID().toString();
  }

  protected static HttpRequest.Builder post(URI uri, String key, String body) {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri)
        .timeout(Duration.ofSeconds(30))
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body));
    if (key != null) {
      b.header("Idempotency-Key", key);
    }
    return b;
  }

  protected static HttpResponse<byte[]> send(HttpRequest.Builder request) throws Exception {
    return CLIENT.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  protected static String text(HttpResponse<byte[]> response) {
    return new String(response.body(), StandardCharsets.UTF_8);
  }

  // SPEC §5, row 1 and 4: nothing stored → execute; completed, same hash → replay.
  @Test
  void replaysStoredResponseForSameKey() throws Exception {
    JettyServer s = start();
    String key = newKey();
    HttpResponse<byte[]> first = send(post(s.uri("/echo"), key, "{\"amount\":10}"));
    HttpResponse<byte[]> second = send(post(s.uri("/echo"), key, "{\"amount\":10}"));

    assertThat(first.statusCode()).isEqualTo(201);
    assertThat(first.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).isEmpty();
    assertThat(second.statusCode()).isEqualTo(201);
    assertThat(second.body()).isEqualTo(first.body()).isEqualTo(
        "{\"amount\":10}".getBytes(StandardCharsets.UTF_8));
    assertThat(second.headers().firstValue("X-Execution")).contains("1");
    assertThat(second.headers().firstValue("Content-Type")).contains("application/octet-stream");
    assertThat(second.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    assertThat(app.executions).hasValue(1);
  }

  // SPEC §6: the duplicate gets the response the client got, whatever the store's encoding.
  @Test
  void headerValuesWithControlCharactersAreReplayedAsTheClientGotThem() throws Exception {
    JettyServer s = start();
    String key = newKey();
    HttpResponse<byte[]> first = send(post(s.uri("/odd-headers"), key, "{}"));
    HttpResponse<byte[]> second = send(post(s.uri("/odd-headers"), key, "{}"));

    assertThat(first.statusCode()).isEqualTo(201);
    assertThat(second.statusCode()).isEqualTo(201);
    assertThat(second.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    assertThat(second.headers().firstValue("X-Injected")).isEmpty();
    for (String name : List.of("X-Nul", "X-Line", "X-Return", "X-Tab")) {
      assertThat(second.headers().allValues(name)).as(name)
          .isEqualTo(first.headers().allValues(name)).hasSize(1);
    }
    assertThat(second.body()).isEqualTo(first.body());
    assertThat(app.executions).hasValue(1);
  }

  @Test
  void acceptsStructuredFieldAndBareFormOfTheSameKey() throws Exception {
    JettyServer s = start();
    String key = newKey();
    HttpResponse<byte[]> bare = send(post(s.uri("/echo"), key, "{}"));
    HttpResponse<byte[]> quoted = send(post(s.uri("/echo"), "\"" + key + "\"", "{}"));
    assertThat(quoted.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    assertThat(quoted.body()).isEqualTo(bare.body());
    assertThat(app.executions).hasValue(1);
  }

  // SPEC §5, row 2 (reject).
  @Test
  void inFlightKeyAnswers409WithRetryAfter() throws Exception {
    JettyServer s = start();
    String key = newKey();
    CompletableFuture<HttpResponse<byte[]>> first = CLIENT.sendAsync(
        post(s.uri("/echo?hold=1"), key, "{}").build(), HttpResponse.BodyHandlers.ofByteArray());
    assertThat(app.entered.await(10, TimeUnit.SECONDS)).isTrue();

    HttpResponse<byte[]> second = send(post(s.uri("/echo?hold=1"), key, "{}"));
    assertThat(second.statusCode()).isEqualTo(409);
    assertThat(second.headers().firstValue("Content-Type")).contains("application/problem+json");
    assertThat(second.headers().firstValue("Retry-After")).isPresent();
    assertThat(text(second)).contains(Problem.TYPE_PREFIX + "in-flight").doesNotContain(key);

    app.gate.countDown();
    assertThat(first.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(201);
    assertThat(app.executions).hasValue(1);
  }

  // SPEC §5, row 2 (wait): waiters get the first response, woken when it completes.
  @Test
  void waitModeReplaysTheFirstResponseToWaiters() throws Exception {
    JettyServer s = start(b -> b.inFlight(InFlightMode.WAIT).waitTimeout(Duration.ofSeconds(20)));
    String key = newKey();
    CompletableFuture<HttpResponse<byte[]>> first = CLIENT.sendAsync(
        post(s.uri("/echo?hold=1"), key, "{\"x\":1}").build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertThat(app.entered.await(10, TimeUnit.SECONDS)).isTrue();
    List<CompletableFuture<HttpResponse<byte[]>>> waiters = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      waiters.add(CLIENT.sendAsync(post(s.uri("/echo?hold=1"), key, "{\"x\":1}").build(),
          HttpResponse.BodyHandlers.ofByteArray()));
    }
    // The waiters are parked; none has an answer while the first is held.
    assertThat(waiters).noneMatch(CompletableFuture::isDone);

    Instant opened = Instant.now();
    app.gate.countDown();
    HttpResponse<byte[]> original = first.get(10, TimeUnit.SECONDS);
    for (CompletableFuture<HttpResponse<byte[]>> w : waiters) {
      HttpResponse<byte[]> replay = w.get(10, TimeUnit.SECONDS);
      assertThat(replay.statusCode()).isEqualTo(201);
      assertThat(replay.body()).isEqualTo(original.body());
      assertThat(replay.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    }
    // Woken by the completion, not by a wait-timeout expiring.
    assertThat(Duration.between(opened, Instant.now())).isLessThan(Duration.ofSeconds(5));
    assertThat(app.executions).hasValue(1);
  }

  @Test
  void waiterThatGivesUpAnswers409AndLeavesTheOwnerAlone() throws Exception {
    JettyServer s = start(b -> b.inFlight(InFlightMode.WAIT).waitTimeout(Duration.ofMillis(300)));
    String key = newKey();
    CompletableFuture<HttpResponse<byte[]>> first = CLIENT.sendAsync(
        post(s.uri("/echo?hold=1"), key, "{}").build(), HttpResponse.BodyHandlers.ofByteArray());
    assertThat(app.entered.await(10, TimeUnit.SECONDS)).isTrue();

    HttpResponse<byte[]> waiter = send(post(s.uri("/echo?hold=1"), key, "{}"));
    assertThat(waiter.statusCode()).isEqualTo(409);

    app.gate.countDown();
    assertThat(first.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(201);
    HttpResponse<byte[]> after = send(post(s.uri("/echo?hold=1"), key, "{}"));
    assertThat(after.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    assertThat(app.executions).hasValue(1);
  }

  // SPEC §5: a live owner renews its lease, so a slow request is never taken over.
  @Test
  void slowLiveOwnerIsNotTakenOver() throws Exception {
    JettyServer s = start(b -> b.lockTimeout(Duration.ofMillis(300)));
    String key = newKey();
    CompletableFuture<HttpResponse<byte[]>> first = CLIENT.sendAsync(
        post(s.uri("/echo?hold=1"), key, "{}").build(), HttpResponse.BodyHandlers.ofByteArray());
    assertThat(app.entered.await(10, TimeUnit.SECONDS)).isTrue();

    // For four lock timeouts, every duplicate is refused: the owner keeps renewing.
    Instant until = Instant.now().plusMillis(1_200);
    int duplicates = 0;
    while (Instant.now().isBefore(until)) {
      assertThat(send(post(s.uri("/echo?hold=1"), key, "{}")).statusCode()).isEqualTo(409);
      duplicates++;
    }
    assertThat(duplicates).isPositive();
    app.gate.countDown();
    assertThat(first.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(201);
    assertThat(app.executions).hasValue(1);
  }

  // SPEC §5, row 3: the owner died (its lock is never renewed) → taken over after lock-timeout.
  @Test
  void staleLockOfDeadOwnerIsTakenOver() throws Exception {
    JettyServer s = start(b -> b.lockTimeout(Duration.ofMillis(300)));
    String key = newKey();
    String storeKey = IdempotencyFilterTestAccess.storeKeyOf(key);
    String hash = IdempotencyFilterTestAccess.requestHashOf("POST", "/echo", "{}");
    // A "dead owner": a lock taken directly in the store, never renewed nor released.
    store().acquire(storeKey, hash, Duration.ofSeconds(1), Duration.ofHours(1));

    HttpResponse<byte[]> during = send(post(s.uri("/echo"), key, "{}"));
    assertThat(during.statusCode()).isEqualTo(409);
    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
        .until(() -> send(post(s.uri("/echo"), key, "{}")).statusCode() == 201);
    assertThat(app.executions).hasValue(1);
  }

  // SPEC §4 and §5, row 5.
  @Test
  void sameKeyWithAnotherBodyIs422AndNotExecuted() throws Exception {
    JettyServer s = start();
    String key = newKey();
    send(post(s.uri("/echo"), key, "{\"amount\":10}"));
    HttpResponse<byte[]> other = send(post(s.uri("/echo"), key, "{\"amount\":99}"));
    assertThat(other.statusCode()).isEqualTo(422);
    assertThat(text(other)).contains(Problem.TYPE_PREFIX + "payload-mismatch");
    HttpResponse<byte[]> otherPath = send(post(s.uri("/status?code=200"), key, "{\"amount\":10}"));
    assertThat(otherPath.statusCode()).isEqualTo(422);
    assertThat(app.executions).hasValue(1);
  }

  // SPEC §5, row 1: an expired record executes again.
  @Test
  void expiredRecordExecutesAgain() throws Exception {
    JettyServer s = start(b -> b.retention(Duration.ofMillis(300)));
    String key = newKey();
    send(post(s.uri("/echo"), key, "{}"));
    await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
        .until(() -> send(post(s.uri("/echo"), key, "{}"))
            .headers().firstValue(IdempotencyFilter.REPLAYED_HEADER).isEmpty());
    assertThat(app.executions).hasValue(2);
  }

  // SPEC §6: getWriter, with its charset, multi-valued headers; Set-Cookie not replayed.
  @Test
  void writerResponseReplaysSameBytesAndHeadersButNoCookie() throws Exception {
    JettyServer s = start();
    String key = newKey();
    HttpResponse<byte[]> first = send(post(s.uri("/writer"), key, "{}"));
    HttpResponse<byte[]> replay = send(post(s.uri("/writer"), key, "{}"));
    assertThat(text(first)).isEqualTo("grüße, execution 1");
    assertThat(replay.body()).isEqualTo(first.body());
    assertThat(replay.headers().firstValue("Content-Type"))
        .isEqualTo(first.headers().firstValue("Content-Type"));
    assertThat(replay.headers().allValues("X-Multi")).containsExactly("a", "b");
    assertThat(first.headers().firstValue("Set-Cookie")).contains("session=1");
    assertThat(replay.headers().firstValue("Set-Cookie")).isEmpty();
    assertThat(replay.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
  }

  @Test
  void setCookieIsReplayedWhenConfigured() throws Exception {
    JettyServer s = start(b -> b.replaySetCookie(true));
    String key = newKey();
    send(post(s.uri("/writer"), key, "{}"));
    HttpResponse<byte[]> replay = send(post(s.uri("/writer"), key, "{}"));
    assertThat(replay.headers().firstValue("Set-Cookie")).contains("session=1");
  }

  // SPEC §6: replay drops Date (and hop-by-hop headers): the replay gets a fresh Date, and
  // headers the container adds itself (Date, Server) are not doubled by the stored copy.
  @Test
  void replayHasTheOriginalsHeadersOnceEach() throws Exception {
    JettyServer s = start();
    String key = newKey();
    HttpResponse<byte[]> first = send(post(s.uri("/echo"), key, "{}"));
    HttpResponse<byte[]> replay = send(post(s.uri("/echo"), key, "{}"));
    assertThat(replay.headers().allValues("Date")).hasSize(1);
    assertThat(replay.headers().allValues("Content-Length")).containsExactly("2");
    Map<String, List<String>> replayed = new java.util.TreeMap<>(replay.headers().map());
    replayed.remove(IdempotencyFilter.REPLAYED_HEADER.toLowerCase(java.util.Locale.ROOT));
    replayed.remove("date");
    Map<String, List<String>> original = new java.util.TreeMap<>(first.headers().map());
    original.remove("date");
    assertThat(replayed).isEqualTo(original);
  }

  // SPEC §6: sendError goes through the container on the first run and on the replay.
  @Test
  void sendErrorIsStoredAndReplayedWithTheSameBytes() throws Exception {
    JettyServer s = start();
    String key = newKey();
    HttpResponse<byte[]> first = send(post(s.uri("/error"), key, "{}"));
    HttpResponse<byte[]> replay = send(post(s.uri("/error"), key, "{}"));
    assertThat(first.statusCode()).isEqualTo(404);
    assertThat(text(first)).contains("no such order 1");
    assertThat(replay.statusCode()).isEqualTo(404);
    assertThat(replay.body()).isEqualTo(first.body());
    assertThat(replay.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    assertThat(app.executions).hasValue(1);
  }

  @Test
  void sendRedirectIsStoredAndReplayed() throws Exception {
    JettyServer s = start();
    String key = newKey();
    HttpResponse<byte[]> first = send(post(s.uri("/redirect"), key, "{}"));
    HttpResponse<byte[]> replay = send(post(s.uri("/redirect"), key, "{}"));
    assertThat(first.statusCode()).isEqualTo(302);
    assertThat(replay.statusCode()).isEqualTo(302);
    assertThat(replay.headers().firstValue("Location"))
        .isEqualTo(first.headers().firstValue("Location"));
    assertThat(replay.headers().firstValue("Location").orElseThrow()).endsWith("/orders/1");
    assertThat(app.executions).hasValue(1);
  }

  @Test
  void flushedAndContentLengthResponsesAreCapturedWhole() throws Exception {
    JettyServer s = start();
    String key = newKey();
    HttpResponse<byte[]> first = send(post(s.uri("/flush"), key, "{}"));
    HttpResponse<byte[]> replay = send(post(s.uri("/flush"), key, "{}"));
    assertThat(text(first)).isEqualTo("part one 1\npart two\n");
    assertThat(replay.body()).isEqualTo(first.body());

    String key2 = newKey();
    HttpResponse<byte[]> sized = send(post(s.uri("/length"), key2, "{}"));
    HttpResponse<byte[]> sizedReplay = send(post(s.uri("/length"), key2, "{}"));
    assertThat(text(sized)).isEqualTo("fixed length 2");
    assertThat(sizedReplay.body()).isEqualTo(sized.body());
    assertThat(sizedReplay.headers().firstValue("Content-Length")).contains("14");
  }

  // SPEC §6: async requests are stored when the AsyncContext completes.
  @Test
  void asyncResponseIsStoredWhenTheAsyncContextCompletes() throws Exception {
    JettyServer s = start();
    String key = newKey();
    CompletableFuture<HttpResponse<byte[]>> first = CLIENT.sendAsync(
        post(s.uri("/async?holdAsync=1"), key, "{}").build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertThat(app.entered.await(10, TimeUnit.SECONDS)).isTrue();
    // The servlet returned, but the async response is not complete: still in flight.
    assertThat(send(post(s.uri("/async?holdAsync=1"), key, "{}")).statusCode()).isEqualTo(409);
    app.gate.countDown();
    HttpResponse<byte[]> original = first.get(10, TimeUnit.SECONDS);
    assertThat(original.statusCode()).isEqualTo(202);
    assertThat(text(original)).isEqualTo("async execution 1");

    HttpResponse<byte[]> replay = send(post(s.uri("/async?holdAsync=1"), key, "{}"));
    assertThat(replay.statusCode()).isEqualTo(202);
    assertThat(replay.body()).isEqualTo(original.body());
    assertThat(replay.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    assertThat(app.executions).hasValue(1);
  }

  // SPEC §6: 5xx is not stored; the lock is released so a retry executes.
  @Test
  void serverErrorIsNotStoredSoRetryExecutes() throws Exception {
    JettyServer s = start();
    String key = newKey();
    HttpResponse<byte[]> first = send(post(s.uri("/status?code=503"), key, "{}"));
    HttpResponse<byte[]> retry = send(post(s.uri("/status?code=503"), key, "{}"));
    assertThat(first.statusCode()).isEqualTo(503);
    assertThat(text(first)).isEqualTo("execution 1");
    assertThat(text(retry)).isEqualTo("execution 2");
    assertThat(retry.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).isEmpty();
  }

  @Test
  void clientErrorIsStoredAndReplayed() throws Exception {
    JettyServer s = start();
    String key = newKey();
    send(post(s.uri("/status?code=400"), key, "{}"));
    HttpResponse<byte[]> retry = send(post(s.uri("/status?code=400"), key, "{}"));
    assertThat(retry.statusCode()).isEqualTo(400);
    assertThat(text(retry)).isEqualTo("execution 1");
    assertThat(app.executions).hasValue(1);
  }

  // SPEC §6: an exception from the chain releases the lock; the client still gets a response.
  @Test
  void handlerExceptionReleasesTheLockSoRetryExecutes() throws Exception {
    JettyServer s = start();
    String key = newKey();
    HttpResponse<byte[]> first = send(post(s.uri("/throw"), key, "{}"));
    HttpResponse<byte[]> retry = send(post(s.uri("/throw"), key, "{}"));
    assertThat(first.statusCode()).isEqualTo(500);
    assertThat(retry.statusCode()).isEqualTo(500);
    assertThat(app.executions).hasValue(2);
  }

  // SPEC §6: the first caller's response is streamed, not buffered; over the limit it is not
  // stored, so a retry executes again.
  @Test
  void bigResponseStreamsBeforeTheHandlerFinishesAndIsNotStored() throws Exception {
    JettyServer s = start();
    String key = newKey();
    HttpResponse<InputStream> first = CLIENT.send(post(s.uri("/big"), key, "{}").build(),
        HttpResponse.BodyHandlers.ofInputStream());
    // Headers and the first bytes arrive while the handler is still held mid-body.
    assertThat(first.statusCode()).isEqualTo(200);
    byte[] start;
    try (InputStream in = first.body()) {
      start = in.readNBytes(512 * 1024);
      assertThat(app.bigFirstMegabyteWritten.await(10, TimeUnit.SECONDS)).isTrue();
      assertThat(app.executions).hasValue(1);
      app.bigMayFinish.countDown();
      byte[] rest = in.readAllBytes();
      assertThat(start.length + rest.length).isEqualTo(80 * 64 * 1024);
      assertThat(rest[rest.length - 1]).isEqualTo((byte) 79);
    }
    assertThat(start[0]).isEqualTo((byte) 0);

    HttpResponse<byte[]> retry = send(post(s.uri("/big"), key, "{}"));
    assertThat(retry.body()).hasSize(80 * 64 * 1024);
    assertThat(retry.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).isEmpty();
    assertThat(app.executions).hasValue(2);
  }

  // SPEC §6: the downstream servlet reads the same bytes the filter read.
  @Test
  void requestBodyReachesTheServletIntact() throws Exception {
    JettyServer s = start();
    byte[] binary = new byte[100_000];
    new java.util.Random(7).nextBytes(binary);
    HttpResponse<byte[]> response = send(HttpRequest.newBuilder(s.uri("/echo"))
        .header("Idempotency-Key", newKey())
        .header("Content-Type", "application/octet-stream")
        .POST(HttpRequest.BodyPublishers.ofByteArray(binary)));
    assertThat(response.statusCode()).isEqualTo(201);
    assertThat(response.body()).isEqualTo(binary);
  }

  // SPEC §6: getParameter on a form post still works after the filter read the body.
  @Test
  void formParametersStillWorkAfterTheFilterReadTheBody() throws Exception {
    JettyServer s = start();
    String key = newKey();
    HttpRequest.Builder form = HttpRequest.newBuilder(s.uri("/form?from=query"))
        .header("Idempotency-Key", key)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString("item=t%C3%A9a&qty=2&qty=3"));
    HttpResponse<byte[]> first = send(form);
    assertThat(text(first)).isEqualTo("from=query\nitem=téa\nqty=2|3\n");
    HttpResponse<byte[]> replay = send(form);
    assertThat(replay.body()).isEqualTo(first.body());
    assertThat(app.executions).hasValue(1);
  }

  // SPEC §6: over max-request-bytes: 413 with a key; unprotected pass-through without one.
  @Test
  void bodyOverTheLimitIs413WithAKeyAndPassesIntactWithout() throws Exception {
    JettyServer s = start(b -> b.maxRequestBytes(1024));
    byte[] big = new byte[5_000];
    new java.util.Random(3).nextBytes(big);
    HttpResponse<byte[]> keyed = send(HttpRequest.newBuilder(s.uri("/echo"))
        .header("Idempotency-Key", newKey())
        .POST(HttpRequest.BodyPublishers.ofByteArray(big)));
    assertThat(keyed.statusCode()).isEqualTo(413);
    assertThat(text(keyed)).contains(Problem.TYPE_PREFIX + "too-large");
    assertThat(app.executions).hasValue(0);

    HttpResponse<byte[]> keyless = send(HttpRequest.newBuilder(s.uri("/echo"))
        .POST(HttpRequest.BodyPublishers.ofByteArray(big)));
    assertThat(keyless.statusCode()).isEqualTo(201);
    assertThat(keyless.body()).isEqualTo(big);

    // Chunked (no Content-Length): the filter stops reading at the limit and hands on the rest.
    HttpResponse<byte[]> chunked = send(HttpRequest.newBuilder(s.uri("/echo"))
        .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(big))));
    assertThat(chunked.statusCode()).isEqualTo(201);
    assertThat(chunked.body()).isEqualTo(big);
  }

  // SPEC §3: keyless duplicates, canonical JSON.
  @Test
  void keylessDuplicateWithReorderedJsonIsReplayed() throws Exception {
    JettyServer s = start(b -> b.fingerprintWindow(Duration.ofSeconds(30)));
    HttpResponse<byte[]> first = send(post(s.uri("/share"), null, "{\"a\":1,\"b\":[1,{\"y\":2,\"x\":1}]}"));
    HttpResponse<byte[]> second =
        send(post(s.uri("/share"), null, "{ \"b\" : [1, {\"x\":1, \"y\":2}], \"a\" : 1 }"));
    assertThat(second.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    assertThat(second.body()).isEqualTo(first.body());
    HttpResponse<byte[]> different = send(post(s.uri("/share"), null, "{\"a\":2}"));
    assertThat(different.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).isEmpty();
    assertThat(app.executions).hasValue(2);
  }

  // SPEC §3: no misses at bucket boundaries.
  @Test
  void keylessPairsTwoMillisecondsApartAreNeverExecutedTwice() throws Exception {
    JettyServer s = start();
    // Class loading and JIT of a cold server are not what this measures: warm it up first.
    for (int i = 0; i < 50; i++) {
      send(post(s.uri("/share"), null, "{\"warm-up\":" + i + "}"));
    }
    java.util.Random random = new java.util.Random(42);
    int pairs = 200;
    for (int i = 0; i < pairs; i++) {
      String id = "pair-" + i;
      String body = "{\"share\":" + i + "}";
      // A random phase relative to any 100 ms bucket.
      long phaseNanos = random.nextInt(100) * 1_000_000L;
      long until = System.nanoTime() + phaseNanos;
      while (System.nanoTime() < until) {
        Thread.onSpinWait();
      }
      CompletableFuture<HttpResponse<byte[]>> a = CLIENT.sendAsync(
          post(s.uri("/share"), null, body).header("X-Test-Id", id).build(),
          HttpResponse.BodyHandlers.ofByteArray());
      long gap = System.nanoTime() + 2_000_000L;
      while (System.nanoTime() < gap) {
        Thread.onSpinWait();
      }
      CompletableFuture<HttpResponse<byte[]>> b = CLIENT.sendAsync(
          post(s.uri("/share"), null, body).header("X-Test-Id", id).build(),
          HttpResponse.BodyHandlers.ofByteArray());
      int sa = a.get(10, TimeUnit.SECONDS).statusCode();
      int sb = b.get(10, TimeUnit.SECONDS).statusCode();
      assertThat(List.of(sa, sb)).allMatch(code -> code == 201 || code == 409);
    }
    // SPEC §3: a duplicate is one that arrived less than one window after the first. The client
    // sends 2 ms apart; the server's own arrival times decide what the spec calls a duplicate.
    long window = Duration.ofMillis(100).toNanos();
    int duplicatesByArrival = 0;
    for (int i = 0; i < pairs; i++) {
      String id = "pair-" + i;
      List<Long> arrived = app.arrivals.get(id);
      assertThat(arrived).hasSize(2);
      if (Math.abs(arrived.get(1) - arrived.get(0)) < window) {
        duplicatesByArrival++;
        assertThat(app.executionsById.get(id)).as("executions of %s", id).hasValue(1);
      }
    }
    // The run is meaningful only if nearly every pair reached the server within the window.
    assertThat(duplicatesByArrival).isGreaterThanOrEqualTo(pairs * 9 / 10);
  }

  @Test
  void concurrentRequestsWithOneKeyExecuteOnce() throws Exception {
    JettyServer s = start(b -> b.inFlight(InFlightMode.WAIT));
    String key = newKey();
    CountDownLatch go = new CountDownLatch(1);
    java.util.concurrent.ExecutorService threads =
        java.util.concurrent.Executors.newFixedThreadPool(16);
    List<CompletableFuture<HttpResponse<byte[]>>> all = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      all.add(CompletableFuture.supplyAsync(() -> {
        try {
          go.await();
          return send(post(s.uri("/echo"), key, "{\"pay\":1}"));
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      }, threads));
    }
    go.countDown();
    for (CompletableFuture<HttpResponse<byte[]>> f : all) {
      HttpResponse<byte[]> r = f.get(30, TimeUnit.SECONDS);
      assertThat(r.statusCode()).isEqualTo(201);
      assertThat(text(r)).isEqualTo("{\"pay\":1}");
    }
    threads.shutdown();
    assertThat(app.executions).hasValue(1);
  }
}
