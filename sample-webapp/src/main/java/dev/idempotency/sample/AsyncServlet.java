package dev.idempotency.sample;

import jakarta.servlet.AsyncContext;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * {@code POST /api/async?delayMs=N} (0–10000, default 0) starts an {@link AsyncContext}, frees
 * the container thread, and completes from a timer after the delay with {@code 201} and
 * {@code {"id", "delayMs", "completedAt"}}. Thread-safe.
 */
public final class AsyncServlet extends HttpServlet {

  private transient SampleApp app;

  @Override
  public void init() {
    app = SampleApp.of(getServletContext());
  }

  @Override
  protected void doPost(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    app.executed();
    int delayMs;
    try {
      delayMs = Http.intParameter(request, "delayMs", 0, 0, 10_000);
    } catch (Http.BadParameter e) {
      e.send(response);
      return;
    }
    AsyncContext async = request.startAsync();
    async.setTimeout(delayMs + 30_000L);
    app.timer().schedule(() -> finish(async, delayMs), delayMs, TimeUnit.MILLISECONDS);
  }

  private static void finish(AsyncContext async, int delayMs) {
    try {
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("id", UUID.randomUUID().toString());
      body.put("delayMs", delayMs);
      body.put("completedAt", Instant.now().toString());
      Http.json((HttpServletResponse) async.getResponse(), HttpServletResponse.SC_CREATED, body);
    } catch (IOException | RuntimeException e) {
      // the client went away or the container gave up on the request: nothing left to answer
      async.getRequest().getServletContext().log("async completion failed", e);
    } finally {
      async.complete();
    }
  }
}
