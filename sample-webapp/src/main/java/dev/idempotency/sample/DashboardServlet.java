package dev.idempotency.sample;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.idempotency.IdempotencyFilter;
import dev.idempotency.Outcome;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.StoreStatus;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.distribution.HistogramSnapshot;
import io.micrometer.core.instrument.distribution.ValueAtPercentile;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The live dashboard: {@code GET /} is a plain HTML page whose script ({@code GET /dashboard.js})
 * reads {@code GET /dashboard.json} every second — requests per outcome, store latency
 * percentiles, the serving store and its breaker. Mapped outside {@code /api/*}, so the filter
 * never sees it; the page is served by this servlet rather than the container's default servlet,
 * so it works the same in the runnable jar and in any container. Thread-safe.
 */
public final class DashboardServlet extends HttpServlet {

  private static final String FILES = "/WEB-INF/dashboard/";

  private transient MeterRegistry registry;

  @Override
  public void init() {
    registry = SampleMetrics.of(getServletContext()).dashboard();
  }

  @Override
  protected void doGet(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    String path = request.getServletPath() + (request.getPathInfo() == null ? ""
        : request.getPathInfo());
    switch (path) {
      case "", "/" -> file(response, "index.html", "text/html;charset=utf-8");
      case "/dashboard.js" -> file(response, "dashboard.js", "text/javascript;charset=utf-8");
      case "/dashboard.json" -> {
        response.setHeader("Cache-Control", "no-store");
        Http.json(response, 200, snapshot());
      }
      default -> Http.problem(response, 404, "not-found", "Not found", "No page at " + path);
    }
  }

  private void file(HttpServletResponse response, String name, String contentType)
      throws IOException {
    byte[] bytes;
    try (InputStream in = getServletContext().getResourceAsStream(FILES + name)) {
      if (in == null) {
        throw new IllegalStateException(FILES + name + " is missing from the webapp");
      }
      bytes = in.readAllBytes();
    }
    response.setStatus(200);
    response.setContentType(contentType);
    response.setHeader("Cache-Control", "no-cache");
    response.setContentLength(bytes.length);
    response.getOutputStream().write(bytes);
  }

  /** What the page shows, read from the dashboard registry and the filter's store. */
  ObjectNode snapshot() {
    ObjectNode json = Http.JSON.createObjectNode();
    IdempotencyFilter filter =
        (IdempotencyFilter) getServletContext().getAttribute(IdempotencyFilter.CONTEXT_ATTRIBUTE);
    ObjectNode store = json.putObject("store");
    if (filter == null) {
      store.put("name", "n/a").put("serving", "n/a").put("breaker", "n/a").put("fallbacks", 0);
    } else {
      IdempotencyStore s = filter.store();
      StoreStatus status = s.status();
      store.put("name", s.name())
          .put("serving", status.serving())
          .put("breaker", status.breaker().label())
          .put("fallbacks", status.fallbacks());
    }

    ObjectNode outcomes = json.putObject("outcomes");
    for (Outcome outcome : Outcome.values()) {
      Counter counter = registry.find("idempotency.requests")
          .tag("outcome", outcome.label()).counter();
      outcomes.put(outcome.label(), counter == null ? 0 : (long) counter.count());
    }
    Gauge inFlight = registry.find("idempotency.inflight").gauge();
    json.put("inflight", inFlight == null ? 0 : (long) inFlight.value());
    Counter stale = registry.find("idempotency.stale.recovered").counter();
    json.put("staleRecovered", stale == null ? 0 : (long) stale.count());
    FunctionCounter fallbacks = registry.find("idempotency.fallback").functionCounter();
    json.put("fallbacks", fallbacks == null ? 0 : (long) fallbacks.count());

    json.put("percentileWindowSeconds", SampleMetrics.PERCENTILE_WINDOW.toSeconds());
    ArrayNode latency = json.putArray("latency");
    List<Timer> timers = registry.find("idempotency.store").timers().stream()
        .sorted(Comparator.comparing((Timer t) -> t.getId().getTag("store"))
            .thenComparing(t -> opOrder(t.getId().getTag("op"))))
        .toList();
    for (Timer timer : timers) {
      HistogramSnapshot snapshot = timer.takeSnapshot();
      ObjectNode row = latency.addObject()
          .put("store", timer.getId().getTag("store"))
          .put("op", timer.getId().getTag("op"))
          .put("count", snapshot.count());
      for (ValueAtPercentile p : snapshot.percentileValues()) {
        String name = p.percentile() == 0.5 ? "p50Ms" : p.percentile() == 0.99 ? "p99Ms" : null;
        if (name != null) {
          row.put(name, p.value(TimeUnit.MILLISECONDS));
        }
      }
    }
    return json;
  }

  private static int opOrder(String op) {
    int i = List.of("acquire", "complete", "release", "renew").indexOf(op);
    return i < 0 ? Integer.MAX_VALUE : i;
  }
}
