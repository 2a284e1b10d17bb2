package dev.idempotency;

import static org.assertj.core.api.Assertions.assertThat;

import dev.idempotency.memory.MemoryStore;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.StoredResponse;
import dev.idempotency.IdempotencyConfig.KeyMode;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.util.concurrent.Flow;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class MemoryStoreHttpTest extends IdempotencyFilterHttpContract {

  private final MemoryStore memory = new MemoryStore();
  private volatile IdempotencyStore store = memory;

  @Override
  protected IdempotencyStore store() {
    return store;
  }

  // Regression: a request refused before the filter read its body (a bad key) left the part of
  // the body that arrived after the refusal unread; Jetty closed the connection after the 400
  // without saying so, and the client's next request on that connection failed with "header
  // parser received no bytes". Here the second half of the body leaves the client only once the
  // request has reached the server.
  @Test
  void aRequestRefusedBeforeItsBodyArrivedLeavesTheConnectionUsable() throws Exception {
    AtomicReference<CompletableFuture<Void>> arrived = new AtomicReference<>();
    app.onArrival = () -> arrived.get().complete(null);
    JettyServer s = start(b -> b.keyMode(KeyMode.REQUIRED));
    byte[] body = ("{\"late\":\"" + "x".repeat(2000) + "\"}").getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < 30; i++) {
      CompletableFuture<Void> arrival = new CompletableFuture<>();
      arrived.set(arrival);
      HttpRequest.Builder late = HttpRequest.newBuilder(s.uri("/echo"))
          .timeout(Duration.ofSeconds(30))
          .header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.fromPublisher(secondHalfWhen(arrival, body), body.length));
      if (i % 2 == 0) {
        late.header("Idempotency-Key", "k".repeat(300));
      }
      HttpResponse<byte[]> answer = send(late);
      assertThat(answer.statusCode()).isEqualTo(400);
      assertThat(text(answer)).contains(Problem.TYPE_PREFIX);

      HttpResponse<byte[]> next = send(post(s.uri("/echo"), newKey(), "{\"n\":" + i + "}"));
      assertThat(next.statusCode()).as("request after refusal %d", i).isEqualTo(201);
      assertThat(text(next)).isEqualTo("{\"n\":" + i + "}");
    }
    assertThat(app.executions).hasValue(30);
  }

  // A body over max-request-bytes is read and dropped before its 413, up to SWALLOW_BYTES: the
  // connection stays usable. Past that it is not read, and the 413 closes the connection.
  @Test
  void aBodyOverTheLimitIsDroppedUnlessTooLargeToDropAndTheNextRequestWorks() throws Exception {
    JettyServer s = start(b -> b.maxRequestBytes(16));
    for (int i = 0; i < 10; i++) {
      HttpResponse<byte[]> answer = send(post(s.uri("/echo"), newKey(), "{\"big\":\""
          + "x".repeat(100) + "\"}"));
      assertThat(answer.statusCode()).isEqualTo(413);
      assertThat(answer.headers().firstValue("Connection")).isEmpty();
      HttpResponse<byte[]> next = send(post(s.uri("/echo"), newKey(), "{}"));
      assertThat(next.statusCode()).isEqualTo(201);
    }
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", s.uri("/").getPort())) {
      socket.setSoTimeout(10_000);
      socket.getOutputStream().write(("POST /echo HTTP/1.1\r\nHost: localhost\r\n"
          + "Idempotency-Key: " + newKey() + "\r\nContent-Type: application/json\r\n"
          + "Content-Length: " + (3 * 1024 * 1024) + "\r\n\r\n{}")
          .getBytes(StandardCharsets.ISO_8859_1));
      String answer = EmbeddedContainer.readAll(socket.getInputStream());
      assertThat(answer).startsWith("HTTP/1.1 413 ").containsIgnoringCase("Connection: close")
          .endsWith("<EOF>");
    }
    assertThat(send(post(s.uri("/echo"), newKey(), "{}")).statusCode()).isEqualTo(201);
    assertThat(app.executions).hasValue(11);
  }

  // A chunked upload behind Expect: 100-continue is asked for (the 100 goes out as the filter
  // starts reading it): once it is past max-request-bytes, the client is sending the rest, which
  // is read and dropped as for any other body; closed on it instead, the connection was lost, or
  // on Jetty reset under the 413 the client had been sent.
  @Test
  void aChunkedUploadBehindExpectContinueOverTheLimitIsDroppedAndTheConnectionStaysUsable()
      throws Exception {
    JettyServer s = start(b -> b.maxRequestBytes(16));
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", s.uri("/").getPort())) {
      socket.setSoTimeout(10_000);
      java.io.OutputStream out = socket.getOutputStream();
      java.io.InputStream in = socket.getInputStream();
      out.write(("POST /echo HTTP/1.1\r\nHost: localhost\r\nIdempotency-Key: " + newKey()
          + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
          + "Expect: 100-continue\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      StringBuilder interim = new StringBuilder();
      while (!interim.toString().endsWith("\r\n\r\n")) {
        int c = in.read();
        assertThat(c).as("the interim answer so far: %s", interim).isNotNegative();
        interim.append((char) c);
      }
      assertThat(interim.toString()).startsWith("HTTP/1.1 100 ");
      String chunk = "{\"big\":\"" + "x".repeat(200_000) + "\"}";
      out.write((Integer.toHexString(chunk.length()) + "\r\n" + chunk + "\r\n0\r\n\r\n"
          + "POST /echo HTTP/1.1\r\nHost: localhost\r\nIdempotency-Key: " + newKey()
          + "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
          + "Connection: close\r\n\r\n{}").getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      String answers = EmbeddedContainer.readAll(in);
      assertThat(answers).startsWith("HTTP/1.1 413 ").endsWith("<EOF>");
      assertThat(answers.substring(0, answers.indexOf("\r\n\r\n")))
          .doesNotContainIgnoringCase("Connection: close");
      assertThat(answers).as("the next request on the connection").contains("HTTP/1.1 201 ");
    }
    assertThat(app.executions).hasValue(1);
  }

  /**
   * A body whose first half the client sends at once (so the container dispatches the request)
   * and whose second half it sends only once {@code when} completes.
   */
  private static Flow.Publisher<ByteBuffer> secondHalfWhen(CompletableFuture<Void> when,
      byte[] body) {
    int half = body.length / 2;
    return subscriber -> subscriber.onSubscribe(new Flow.Subscription() {
      private int sent;

      @Override
      public synchronized void request(long n) {
        if (sent == 0) {
          sent = 1;
          subscriber.onNext(ByteBuffer.wrap(body, 0, half));
        } else if (sent == 1) {
          sent = 2;
          when.orTimeout(10, TimeUnit.SECONDS).whenComplete((ok, failure) -> {
            if (failure != null) {
              subscriber.onError(failure);
            } else {
              subscriber.onNext(ByteBuffer.wrap(body, half, body.length - half));
              subscriber.onComplete();
            }
          });
        }
      }

      @Override
      public void cancel() {}
    });
  }

  // Regression: the async response was stored from AsyncListener#onComplete, after the client
  // could already hold it, so a client retrying at once (or a slow store) saw 409 in-flight.
  @Test
  void asyncResponseIsStoredBeforeTheClientReceivesIt() throws Exception {
    AtomicReference<CompletableFuture<HttpResponse<byte[]>>> client = new AtomicReference<>();
    AtomicReference<Boolean> clientHadResponseDuringComplete = new AtomicReference<>();
    store = new ForwardingStore(memory) {
      @Override
      public boolean complete(String key, long token, StoredResponse response,
          Duration retention) {
        try {
          client.get().get(1, TimeUnit.SECONDS);
          clientHadResponseDuringComplete.set(true);
        } catch (TimeoutException e) {
          clientHadResponseDuringComplete.set(false);
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
        return super.complete(key, token, response, retention);
      }
    };
    JettyServer s = start();
    String key = newKey();
    client.set(CLIENT.sendAsync(post(s.uri("/async?holdAsync=1"), key, "{}").build(),
        HttpResponse.BodyHandlers.ofByteArray()));
    assertThat(app.entered.await(10, TimeUnit.SECONDS)).isTrue();
    app.gate.countDown();

    assertThat(client.get().get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(202);
    assertThat(clientHadResponseDuringComplete.get()).isFalse();
    HttpResponse<byte[]> replay = send(post(s.uri("/async?holdAsync=1"), key, "{}"));
    assertThat(replay.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).contains("true");
    assertThat(app.executions).hasValue(1);
  }
}
