package dev.idempotency;

import static org.assertj.core.api.Assertions.assertThat;

import dev.idempotency.memory.MemoryStore;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.StoredResponse;
import java.net.http.HttpResponse;
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
