package dev.idempotency;

import static org.assertj.core.api.Assertions.assertThat;

import dev.idempotency.EmbeddedContainer.Kind;
import dev.idempotency.memory.MemoryStore;
import jakarta.servlet.http.Cookie;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * SPEC §2.3: one caller never sees another caller's response. An application that authenticates
 * by a session cookie after this filter (Spring Security and most frameworks) shows no principal
 * to it: its users were all in the scope {@code anonymous}. Here the servlet itself plays that
 * authentication. Tomcat's own session cookie scopes by default; on Jetty (no session handler
 * here) the application names its cookie with {@code scope.cookie}, as Spring Session's.
 */
class CrossCallerReplayHttpTest {

  private static final HttpClient CLIENT = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1).build();

  private EmbeddedContainer container;
  private String cookieName;

  @AfterEach
  void stop() throws Exception {
    if (container != null) {
      container.close();
    }
  }

  private void start(Kind kind) throws Exception {
    cookieName = kind == Kind.TOMCAT ? "JSESSIONID" : "SESSION";
    IdempotencyFilter.Builder filter = IdempotencyFilter.builder(new MemoryStore())
        // only so the keyless pair is one window apart on a loaded machine (default 100 ms)
        .fingerprintWindow(Duration.ofSeconds(5));
    if (kind == Kind.JETTY) {
      filter.scopeCookie("SESSION");
    }
    HttpServlet accountApi = new HttpServlet() {
      @Override
      protected void doPost(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        req.getInputStream().readAllBytes();
        String user = null;
        for (Cookie c : req.getCookies() == null ? new Cookie[0] : req.getCookies()) {
          if (c.getName().equals(cookieName)) {
            user = c.getValue().replace("-session", "");
          }
        }
        if (user == null) {
          resp.sendError(401);
          return;
        }
        resp.setContentType("application/json");
        resp.getWriter().write("{\"user\":\"" + user + "\",\"iban\":\"secret-of-" + user + "\"}");
      }
    };
    container = EmbeddedContainer.start(kind, filter.build(),
        new EmbeddedContainer.App().servlet("/*", accountApi));
  }

  private HttpResponse<String> post(String sessionUser, String key, String json)
      throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
            + container.port() + "/api/account/export"))
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(json));
    if (sessionUser != null) {
      b.header("Cookie", cookieName + "=" + sessionUser + "-session");
    }
    if (key != null) {
      b.header("Idempotency-Key", key);
    }
    return CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void identicalKeylessBodiesOfTwoUsersAreNotOneRequest(Kind kind) throws Exception {
    start(kind);
    HttpResponse<String> alice = post("alice", null, "{\"format\":\"csv\"}");
    HttpResponse<String> bob = post("bob", null, "{\"format\":\"csv\"}");
    HttpResponse<String> aliceAgain = post("alice", null, "{\"format\":\"csv\"}");
    assertThat(alice.body()).contains("secret-of-alice");
    assertThat(bob.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).isEmpty();
    assertThat(bob.body()).contains("secret-of-bob");
    assertThat(aliceAgain.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER))
        .as("the same user's double-fire is still one request").contains("true");
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void theSameKeyOfAnotherUserIsAnotherRequest(Kind kind) throws Exception {
    start(kind);
    assertThat(post("alice", "order-1", "{\"format\":\"csv\"}").body()).contains("secret-of-alice");
    HttpResponse<String> bob = post("bob", "order-1", "{\"format\":\"csv\"}");
    assertThat(bob.headers().firstValue(IdempotencyFilter.REPLAYED_HEADER)).isEmpty();
    assertThat(bob.body()).contains("secret-of-bob");
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void nobodyElseCanTakeOrProbeAUsersKey(Kind kind) throws Exception {
    start(kind);
    post("mallory", "order-7", "{\"format\":\"pdf\"}");
    // No session at all: the application answers 401, which is stored in the anonymous scope.
    assertThat(post(null, "order-9", "{\"format\":\"csv\"}").statusCode()).isEqualTo(401);

    HttpResponse<String> seven = post("alice", "order-7", "{\"format\":\"csv\"}");
    HttpResponse<String> nine = post("alice", "order-9", "{\"format\":\"csv\"}");
    assertThat(seven.statusCode()).as("not 422").isEqualTo(200);
    assertThat(seven.body()).contains("secret-of-alice");
    assertThat(nine.statusCode()).as("not the stored 401").isEqualTo(200);
  }
}
