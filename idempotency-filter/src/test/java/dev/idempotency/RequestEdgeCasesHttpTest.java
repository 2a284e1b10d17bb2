package dev.idempotency;

import static org.assertj.core.api.Assertions.assertThat;

import dev.idempotency.IdempotencyConfig.KeyMode;
import dev.idempotency.memory.MemoryStore;
import dev.idempotency.spi.IdempotencyStore;
import java.io.ByteArrayInputStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.UUID;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Requests spelled, typed or answered in unusual ways, over real HTTP through embedded Jetty. */
class RequestEdgeCasesHttpTest {

  private static final HttpClient CLIENT = IdempotencyFilterHttpContract.CLIENT;

  private final TestApp app = new TestApp();
  private JettyServer server;

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  private JettyServer start(UnaryOperator<IdempotencyFilter.Builder> settings) throws Exception {
    server = JettyServer.start(settings.apply(IdempotencyFilter.builder(new MemoryStore())).build(),
        app);
    return server;
  }

  private static HttpResponse<byte[]> send(HttpRequest.Builder request) throws Exception {
    return CLIENT.send(request.timeout(Duration.ofSeconds(30)).build(),
        HttpResponse.BodyHandlers.ofByteArray());
  }

  private static HttpRequest.Builder post(JettyServer s, String path, String key,
      String contentType, byte[] body) {
    HttpRequest.Builder b = HttpRequest.newBuilder(s.uri(path))
        .header("Content-Type", contentType)
        .POST(HttpRequest.BodyPublishers.ofByteArray(body));
    return key == null ? b : b.header("Idempotency-Key", key);
  }

  private static String text(HttpResponse<byte[]> response) {
    return new String(response.body(), StandardCharsets.UTF_8);
  }

  // SPEC §1: coverage is decided on the path the container resolves, however it was spelled.
  @Test
  void aCoveredPathSpelledAnotherWayIsStillCoveredAndHasTheSameHash() throws Exception {
    JettyServer s = start(b -> b.includePaths("/echo").keyMode(KeyMode.REQUIRED));
    byte[] json = "{\"amount\":1}".getBytes(StandardCharsets.UTF_8);
    for (String spelling : new String[] {"/echo;v=1", "/%65cho", "/x/../echo"}) {
      assertThat(send(post(s, spelling, null, "application/json", json)).statusCode())
          .as("no key on " + spelling)
          .isEqualTo(400);
    }
    assertThat(app.executions).hasValue(0);

    String key = UUID.randomUUID().toString();
    HttpResponse<byte[]> first = send(post(s, "/echo;v=1", key, "application/json", json));
    HttpResponse<byte[]> retry = send(post(s, "/%65cho", key, "application/json", json));
    assertThat(first.statusCode()).isEqualTo(201);
    assertThat(retry.statusCode()).isEqualTo(201);
    assertThat(retry.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    assertThat(app.executions).hasValue(1);
  }

  // While the filter holds the declared body's last byte the response is not committed in the
  // container; to the handler it must look committed, as it would without the filter.
  @Test
  void aStatusOrErrorAfterTheWholeDeclaredBodyChangesNothing() throws Exception {
    JettyServer s = start(b -> b);
    for (String path : new String[] {"/late-status", "/late-status?sendError=1"}) {
      String key = UUID.randomUUID().toString();
      HttpResponse<byte[]> first = send(post(s, path, key, "application/json", new byte[0]));
      HttpResponse<byte[]> retry = send(post(s, path, key, "application/json", new byte[0]));
      assertThat(first.statusCode()).as(path).isEqualTo(201);
      assertThat(first.headers().firstValue("X-Late")).isEmpty();
      assertThat(retry.statusCode()).isEqualTo(201);
      assertThat(retry.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
      assertThat(retry.body()).isEqualTo(first.body());
    }
    assertThat(app.executions).hasValue(2);
  }

  // The filter parses forms for the servlet, so it keeps the containers' default field limit.
  @Test
  void aFormWithMoreFieldsThanAContainerTakesIsRefused() throws Exception {
    JettyServer s = start(b -> b);
    StringBuilder form = new StringBuilder("f0=0");
    for (int i = 1; i < IdempotencyFilter.MAX_FORM_FIELDS; i++) {
      form.append("&f").append(i).append('=').append(i);
    }
    byte[] atTheLimit = form.toString().getBytes(StandardCharsets.UTF_8);
    byte[] overIt = (form + "&one=more").getBytes(StandardCharsets.UTF_8);
    String formType = "application/x-www-form-urlencoded";
    HttpResponse<byte[]> accepted = send(post(s, "/form", "k-" + UUID.randomUUID(), formType,
        atTheLimit));
    assertThat(accepted.statusCode()).isEqualTo(200);
    assertThat(text(accepted)).contains("f999=999");
    for (String key : new String[] {"k-" + UUID.randomUUID(), null}) {
      HttpResponse<byte[]> refused = send(post(s, "/form", key, formType, overIt));
      assertThat(refused.statusCode()).as("key " + key).isEqualTo(413);
      assertThat(text(refused)).contains("more than 1000 fields");
    }
    assertThat(app.executions).hasValue(1);
  }

  // A client that declares a megabyte and sends a few bytes holds no megabyte of buffer.
  @Test
  void theBodyBufferGrowsAsBytesArriveNotAsDeclared() throws Exception {
    IdempotencyFilter.Body body = IdempotencyFilter.Body.read(
        new ByteArrayInputStream("{\"a\":1}xx".getBytes(StandardCharsets.UTF_8)), 1 << 20,
        1 << 20);
    assertThat(body.length()).isEqualTo(9);
    assertThat(body.bytes().length).isLessThanOrEqualTo(64 * 1024);
  }

  // Never a 500 from the filter: a charset nobody knows is the servlet's business, not ours.
  @Test
  void anUnknownCharsetInTheContentTypeIsHandledAndReplayed() throws Exception {
    JettyServer s = start(b -> b);
    String key = UUID.randomUUID().toString();
    byte[] json = "{\"amount\":2}".getBytes(StandardCharsets.UTF_8);
    for (String type : new String[] {"application/json; charset=utf-99",
        "application/json; charset=bogus!!"}) {
      HttpResponse<byte[]> first = send(post(s, "/echo", key + type.length(), type, json));
      HttpResponse<byte[]> retry = send(post(s, "/echo", key + type.length(), type, json));
      assertThat(first.statusCode()).as(type).isEqualTo(201);
      assertThat(first.body()).isEqualTo(json);
      assertThat(retry.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    }
    assertThat(app.executions).hasValue(2);
  }

  // SPEC §5/§6: what reset() or resetBuffer() discarded is neither sent nor replayed.
  @Test
  void textWrittenBeforeAResetIsNotInTheReplay() throws Exception {
    JettyServer s = start(b -> b);
    for (String path : new String[] {"/reset", "/reset-buffer"}) {
      String key = UUID.randomUUID().toString();
      HttpResponse<byte[]> first = send(post(s, path, key, "application/json", new byte[0]));
      HttpResponse<byte[]> replay = send(post(s, path, key, "application/json", new byte[0]));
      assertThat(first.statusCode()).isEqualTo(202);
      assertThat(text(first)).startsWith("after ");
      assertThat(replay.statusCode()).isEqualTo(202);
      assertThat(replay.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
      assertThat(replay.body()).as(path).isEqualTo(first.body());
    }
  }

  // SPEC §6: the servlet decodes the body as it would without the filter.
  @Test
  void getReaderDecodesABodyWithoutACharsetAsTheContainerWould() throws Exception {
    JettyServer s = start(b -> b);
    byte[] latin1 = {'h', (byte) 0xe9, 'l', 'l', 'o'};
    assertThat(text(send(post(s, "/reader", "r-" + UUID.randomUUID(), "text/plain", latin1))))
        .isEqualTo("héllo");
    byte[] utf8 = "{\"name\":\"héllo\"}".getBytes(StandardCharsets.UTF_8);
    assertThat(text(send(post(s, "/reader", "r-" + UUID.randomUUID(), "application/json", utf8))))
        .isEqualTo("{\"name\":\"héllo\"}");
    assertThat(text(send(post(s, "/reader", "r-" + UUID.randomUUID(), "text/plain;charset=UTF-8",
        utf8)))).isEqualTo("{\"name\":\"héllo\"}");
  }

  // SPEC §6, §4: an application filter ahead of ours that asks for a parameter (a CSRF check)
  // makes the container consume the form; its parameters still reach the servlet and the hash.
  @Test
  void aFormAnEarlierFilterHadTheContainerParseKeepsItsParametersAndItsHash() throws Exception {
    jakarta.servlet.Filter csrfCheck = (request, response, chain) -> {
      request.getParameter("csrf");
      chain.doFilter(request, response);
    };
    server = JettyServer.start(csrfCheck, IdempotencyFilter.builder(new MemoryStore()).build(),
        app);
    String key = UUID.randomUUID().toString();
    HttpRequest.Builder alice = post(server, "/form?from=query", key,
        "application/x-www-form-urlencoded",
        "to=alice&amount=5&csrf=t".getBytes(StandardCharsets.UTF_8));
    HttpResponse<byte[]> first = send(alice);
    assertThat(text(first)).isEqualTo("amount=5\ncsrf=t\nfrom=query\nto=alice\n");
    assertThat(send(alice).headers().firstValue(IdempotencyFilter.REPLAYED_HEADER))
        .contains("true");

    HttpResponse<byte[]> mallory = send(post(server, "/form?from=query", key,
        "application/x-www-form-urlencoded",
        "to=mallory&amount=500&csrf=t".getBytes(StandardCharsets.UTF_8)));
    assertThat(mallory.statusCode()).isEqualTo(422);
    assertThat(app.executions).hasValue(1);
  }

  // SPEC §2: a multipart body passes through unprotected, but its key is checked like any other.
  @Test
  void aMultipartRequestWithABadKeyOrWithoutARequiredOneIsRefused() throws Exception {
    JettyServer s = start(b -> b.keyMode(KeyMode.REQUIRED));
    byte[] body = "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x--\r\n"
        .getBytes(StandardCharsets.US_ASCII);
    String multipart = "multipart/form-data; boundary=x";
    assertThat(send(post(s, "/echo", null, multipart, body)).statusCode()).isEqualTo(400);
    assertThat(send(post(s, "/echo", "a b", multipart, body)).statusCode()).isEqualTo(400);
    assertThat(app.executions).hasValue(0);
    assertThat(send(post(s, "/echo", UUID.randomUUID().toString(), multipart, body)).statusCode())
        .isEqualTo(201);
  }

  // SPEC §5: same-JVM waiters are woken at once; one that gives up must not unregister the rest.
  @Test
  void aWaiterThatGivesUpLeavesTheOtherWaitersOfItsKeyRegistered() throws Exception {
    IdempotencyFilter filter = IdempotencyFilter.builder(new MemoryStore())
        .inFlight(IdempotencyConfig.InFlightMode.WAIT)
        .waitTimeout(Duration.ofSeconds(3))
        .build();
    server = JettyServer.start(filter, app);
    String key = UUID.randomUUID().toString();
    byte[] json = "{\"a\":1}".getBytes(StandardCharsets.UTF_8);
    java.util.concurrent.CompletableFuture<HttpResponse<byte[]>> owner = CLIENT.sendAsync(
        post(server, "/echo?hold=1", key, "application/json", json).build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertThat(app.entered.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();

    long firstSent = System.nanoTime();
    var first = CLIENT.sendAsync(post(server, "/echo?hold=1", key, "application/json", json)
        .build(), HttpResponse.BodyHandlers.ofByteArray());
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
        .until(() -> filter.localWaiters() == 1);
    // The second waiter's deadline 1.5 s after the first's: room to look once the first gave up.
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
        .until(() -> System.nanoTime() - firstSent >= 1_500_000_000L);
    var second = CLIENT.sendAsync(post(server, "/echo?hold=1", key, "application/json", json)
        .build(), HttpResponse.BodyHandlers.ofByteArray());
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
        .until(() -> filter.localWaiters() == 2);

    assertThat(first.get(10, java.util.concurrent.TimeUnit.SECONDS).statusCode()).isEqualTo(409);
    assertThat(filter.localWaiters()).as("the second waiter, still waiting").isEqualTo(1);
    app.gate.countDown();
    assertThat(owner.get(10, java.util.concurrent.TimeUnit.SECONDS).statusCode()).isEqualTo(201);
    HttpResponse<byte[]> replay = second.get(10, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(replay.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    assertThat(filter.localWaiters()).isZero();
    assertThat(app.executions).hasValue(1);
  }

  // SPEC §6: an async response the application gave from its own timeout handler is stored.
  @Test
  void anAsyncTimeoutTheApplicationAnsweredIsStoredAndReplayed() throws Exception {
    JettyServer s = start(b -> b);
    String key = UUID.randomUUID().toString();
    HttpResponse<byte[]> first =
        send(post(s, "/async-timeout-answered", key, "application/json", new byte[0]));
    HttpResponse<byte[]> retry =
        send(post(s, "/async-timeout-answered", key, "application/json", new byte[0]));
    assertThat(first.statusCode()).isEqualTo(202);
    assertThat(text(first)).isEqualTo("timed out, execution 1");
    assertThat(retry.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    assertThat(retry.body()).isEqualTo(first.body());
    assertThat(app.executions).hasValue(1);
  }

  // SPEC §6: an async timeout nobody answers is the container's 500: released, the retry runs.
  @Test
  void anAsyncTimeoutNobodyAnsweredReleasesTheKey() throws Exception {
    JettyServer s = start(b -> b);
    String key = UUID.randomUUID().toString();
    HttpResponse<byte[]> first =
        send(post(s, "/async-timeout-unanswered", key, "application/json", new byte[0]));
    HttpResponse<byte[]> retry =
        send(post(s, "/async-timeout-unanswered", key, "application/json", new byte[0]));
    assertThat(first.statusCode()).isEqualTo(500);
    assertThat(retry.statusCode()).isEqualTo(500);
    assertThat(retry.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).isEmpty();
    assertThat(app.executions).hasValue(2);
  }

  // README: a client that retries the moment it has the response finds it completed, also when
  // the container ended that response itself (a redirect, an empty body flushed).
  @Test
  void aRetryOfAResponseTheContainerAlreadyEndedWaitsForItsStoreWrite() throws Exception {
    for (String path : new String[] {"/redirect", "/empty-flush"}) {
      java.util.concurrent.CountDownLatch storeMayWrite =
          new java.util.concurrent.CountDownLatch(1);
      IdempotencyStore slowCompletes = new ForwardingStore(new MemoryStore()) {
        @Override
        public boolean complete(String key, long token, dev.idempotency.spi.StoredResponse response,
            Duration retention) {
          try {
            storeMayWrite.await(10, java.util.concurrent.TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return super.complete(key, token, response, retention);
        }
      };
      IdempotencyFilter filter = IdempotencyFilter.builder(slowCompletes).build();
      server = JettyServer.start(filter, app);
      String key = UUID.randomUUID().toString();
      HttpResponse<byte[]> first = send(post(server, path, key, "application/json", new byte[0]));
      // On a connection of its own: the first one is busy until the first exchange ends.
      var retry = HttpClient.newHttpClient().sendAsync(
          post(server, path, key, "application/json", new byte[0]).build(),
          HttpResponse.BodyHandlers.ofByteArray());
      org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
          .until(() -> filter.localWaiters() == 1 || retry.isDone());
      storeMayWrite.countDown();

      HttpResponse<byte[]> replay = retry.get(10, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(replay.statusCode()).as(path).isEqualTo(first.statusCode());
      assertThat(replay.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).as(path)
          .contains("true");
      server.close();
      server = null;
    }
    assertThat(app.executions).hasValue(2);
  }

  // SPEC §5: a live owner keeps its lease. A failed renewal is tried again at the next sweep
  // (lock-timeout/6), not a renewal period (lock-timeout/3) later.
  @Test
  void aFailedRenewalIsTriedAgainBeforeAWholeRenewalPeriodHasPassed() throws Exception {
    java.util.List<Long> renewals = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.concurrent.CountDownLatch secondRenewal = new java.util.concurrent.CountDownLatch(2);
    IdempotencyStore flaky = new ForwardingStore(new MemoryStore()) {
      @Override
      public boolean renew(String key, long token, Duration lockTimeout) {
        renewals.add(System.nanoTime());
        secondRenewal.countDown();
        if (renewals.size() == 1) {
          throw new dev.idempotency.spi.StoreException("test", "renewal refused once", null);
        }
        return super.renew(key, token, lockTimeout);
      }
    };
    Duration lock = Duration.ofSeconds(6);
    server = JettyServer.start(
        IdempotencyFilter.builder(flaky).lockTimeout(lock).build(), app);
    var held = CLIENT.sendAsync(post(server, "/echo?hold=1", UUID.randomUUID().toString(),
        "application/json", new byte[0]).build(), HttpResponse.BodyHandlers.ofByteArray());
    assertThat(secondRenewal.await(20, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    app.gate.countDown();
    assertThat(held.get(10, java.util.concurrent.TimeUnit.SECONDS).statusCode()).isEqualTo(201);
    assertThat(Duration.ofNanos(renewals.get(1) - renewals.get(0)))
        .isLessThan(lock.dividedBy(3));
  }

  // SPEC §5: an owner none of whose renewals gets through outlives its lock, and a retry may run
  // its key again. That is said once at WARN (each failed renewal alone is DEBUG), and the
  // client still gets its response.
  @Test
  void renewalsFailingUntilTheLockRunsOutAreWarnedOfOnce() throws Exception {
    java.util.concurrent.atomic.AtomicInteger failures =
        new java.util.concurrent.atomic.AtomicInteger();
    IdempotencyStore unreachable = new ForwardingStore(new MemoryStore()) {
      @Override
      public boolean renew(String key, long token, Duration lockTimeout) {
        failures.incrementAndGet();
        throw new dev.idempotency.spi.StoreException("test", "connection refused", null);
      }
    };
    java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
    java.io.PrintStream stderr = System.err;
    // slf4j-simple writes to whatever System.err is when it logs.
    System.setErr(new java.io.PrintStream(err, true, StandardCharsets.UTF_8));
    String warning = "ran out while its request runs";
    try {
      server = JettyServer.start(
          IdempotencyFilter.builder(unreachable).lockTimeout(Duration.ofMillis(300)).build(), app);
      var held = CLIENT.sendAsync(post(server, "/echo?hold=1", UUID.randomUUID().toString(),
          "application/json", new byte[0]).build(), HttpResponse.BodyHandlers.ofByteArray());
      assertThat(app.entered.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
      org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
          .until(() -> err.toString(StandardCharsets.UTF_8).contains(warning));
      int seen = failures.get();
      org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
          .until(() -> failures.get() >= seen + 3);
      app.gate.countDown();
      HttpResponse<byte[]> response = held.get(10, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(response.statusCode()).isEqualTo(201);
    } finally {
      System.setErr(stderr);
    }
    assertThat(err.toString(StandardCharsets.UTF_8).lines().filter(l -> l.contains(warning)))
        .singleElement().asString().contains("WARN").matches(".*key [0-9a-f]{12} .*");
  }

  // SPEC §8: a failed complete is retried in the background, "counted and logged, never
  // silent", also when the filter is destroyed before the retry could run.
  @Test
  void aBackgroundRetryDroppedAtShutdownIsCountedAsFailed() throws Exception {
    IdempotencyStore completesFail = new ForwardingStore(new MemoryStore()) {
      @Override
      public boolean complete(String key, long token, dev.idempotency.spi.StoredResponse response,
          Duration retention) {
        throw new dev.idempotency.spi.StoreException("test", "store down for completes", null);
      }
    };
    java.util.concurrent.atomic.AtomicInteger failedRetries =
        new java.util.concurrent.atomic.AtomicInteger();
    IdempotencyFilter filter = IdempotencyFilter.builder(completesFail)
        .listener(new IdempotencyListener() {
          @Override
          public void completeRetried(boolean succeeded) {
            if (!succeeded) {
              failedRetries.incrementAndGet();
            }
          }
        })
        .build();
    server = JettyServer.start(filter, app);
    assertThat(send(post(server, "/echo", UUID.randomUUID().toString(), "application/json",
        new byte[0])).statusCode()).isEqualTo(201);
    server.close();
    server = null;
    filter.destroy();
    assertThat(failedRetries).hasValue(1);
  }

  // A form is read whole by getParameter: past max-request-bytes it is refused, not buffered.
  @Test
  void aChunkedKeylessFormOverTheLimitIs413() throws Exception {
    JettyServer s = start(b -> b.maxRequestBytes(1024));
    byte[] form = ("pad=" + "a".repeat(5_000)).getBytes(StandardCharsets.US_ASCII);
    HttpResponse<byte[]> response = send(HttpRequest.newBuilder(s.uri("/form"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(form))));
    assertThat(response.statusCode()).isEqualTo(413);
    assertThat(text(response)).contains(Problem.TYPE_PREFIX + "too-large");
    assertThat(app.executions).hasValue(0);
  }
}
