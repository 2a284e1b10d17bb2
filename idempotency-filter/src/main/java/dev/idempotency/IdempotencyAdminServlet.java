package dev.idempotency;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.idempotency.spi.IdempotencyStore;
import dev.idempotency.spi.RecordInfo;
import dev.idempotency.spi.StoreException;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The operator endpoint (SPEC §10): look up a key, purge it, list stale-looking locks — never
 * showing a body or a caller's raw key. Mount it next to the filter, e.g. at
 * {@code /idempotency/*}; it finds the filter's store through the servlet context. Off unless
 * {@code idempotency.admin.token} is set; every call needs {@code Authorization: Bearer TOKEN}.
 *
 * <ul>
 *   <li>{@code GET  /keys/{storeKey}} or {@code GET /keys?scope=S&key=K} — the record's state
 *   <li>{@code DELETE} the same — purge it
 *   <li>{@code GET  /in-flight?olderThan=30s&limit=100} — in-flight locks older than that
 * </ul>
 *
 * <p>{@code scope} is the filter's scope string: {@code anonymous}, {@code principal:NAME},
 * {@code header:VALUE}, {@code custom:VALUE}, or {@code authorization:SHA256HEX}. Thread-safe.
 */
public final class IdempotencyAdminServlet extends HttpServlet {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern STORE_KEY = Pattern.compile("[0-9a-f]{64}");

  private transient IdempotencyFilter filter;
  private byte[] token;

  /** For {@code web.xml}: the filter and token are found in {@link #init()}. */
  public IdempotencyAdminServlet() {}

  /** For code: serves {@code filter}'s store, with the filter's {@code admin.token}. */
  public IdempotencyAdminServlet(IdempotencyFilter filter) {
    this.filter = filter;
  }

  @Override
  public void init() throws ServletException {
    if (filter == null) {
      filter = (IdempotencyFilter) getServletContext()
          .getAttribute(IdempotencyFilter.CONTEXT_ATTRIBUTE);
    }
    String configured = filter == null ? null : filter.config().adminToken();
    if (configured == null) {
      configured = Settings.from(getServletConfig()::getInitParameter).config().adminToken();
    }
    token = configured == null ? null : configured.getBytes(StandardCharsets.UTF_8);
  }

  @Override
  protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
    if (token == null) {
      Problem.NOT_FOUND.send(resp, "The operator endpoint is off: set idempotency.admin.token.",
          0);
      return;
    }
    if (!authorized(req.getHeader("Authorization"))) {
      resp.setHeader("WWW-Authenticate", "Bearer");
      Problem.UNAUTHORIZED.send(resp, "Send Authorization: Bearer <idempotency.admin.token>.", 0);
      return;
    }
    if (filter == null) {
      filter = (IdempotencyFilter) getServletContext()
          .getAttribute(IdempotencyFilter.CONTEXT_ATTRIBUTE);
    }
    if (filter == null) {
      Problem.NOT_FOUND.send(resp, "No IdempotencyFilter is registered in this application.", 0);
      return;
    }
    IdempotencyStore store = filter.store();
    String path = req.getPathInfo() == null ? "" : req.getPathInfo();
    String method = req.getMethod();
    try {
      if (path.equals("/in-flight") && !method.equals("GET")
          || (path.equals("/keys") || path.startsWith("/keys/"))
              && !method.equals("GET") && !method.equals("DELETE")) {
        resp.setHeader("Allow", path.equals("/in-flight") ? "GET" : "GET, DELETE");
        Problem.METHOD_NOT_ALLOWED.send(resp, method + " is not an operation on " + path + ".", 0);
        return;
      }
      if (path.equals("/in-flight")) {
        Duration olderThan = req.getParameter("olderThan") == null ? Duration.ZERO
            : Settings.parseDuration(req.getParameter("olderThan"));
        int limit = req.getParameter("limit") == null ? 100
            : Integer.parseInt(req.getParameter("limit"));
        if (limit < 1 || limit > 10_000) {
          throw new IllegalArgumentException("limit must be from 1 to 10000: " + limit);
        }
        List<RecordInfo> records = store.inFlightOlderThan(olderThan, limit);
        ArrayNode array = JSON.createArrayNode();
        records.forEach(r -> array.add(describe(r)));
        write(resp, 200, JSON.createObjectNode().put("store", store.name()).set("records", array));
        return;
      }
      if (path.equals("/keys") || path.startsWith("/keys/")) {
        String storeKey = storeKey(req, path);
        if (storeKey == null) {
          Problem.BAD_REQUEST.send(resp, "Name a key as /keys/{64 hex store key} or "
              + "/keys?scope=...&key=...", 0);
          return;
        }
        if (req.getMethod().equals("DELETE")) {
          if (store.purge(storeKey)) {
            write(resp, 200, JSON.createObjectNode().put("purged", storeKey));
          } else {
            Problem.NOT_FOUND.send(resp, "No record for store key " + storeKey + ".", 0);
          }
          return;
        }
        Optional<RecordInfo> record = store.inspect(storeKey);
        if (record.isEmpty()) {
          Problem.NOT_FOUND.send(resp, "No record for store key " + storeKey + ".", 0);
          return;
        }
        write(resp, 200, describe(record.get()));
        return;
      }
      Problem.NOT_FOUND.send(resp, "Unknown operator path.", 0);
    } catch (StoreException e) {
      Problem.STORE_UNAVAILABLE.send(resp, "The store failed: " + e.getMessage(), 5);
    } catch (IllegalArgumentException | java.time.DateTimeException | ArithmeticException e) {
      // NumberFormatException, and Duration.parse's DateTimeParseException or overflow.
      Problem.BAD_REQUEST.send(resp, "Bad parameter: " + e.getMessage(), 0);
    }
  }

  private boolean authorized(String header) {
    // The scheme's name is case-insensitive (RFC 9110 §11.1).
    if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, "Bearer ".length())) {
      return false;
    }
    byte[] given = header.substring("Bearer ".length()).trim().getBytes(StandardCharsets.UTF_8);
    return MessageDigest.isEqual(given, token);
  }

  private static String storeKey(HttpServletRequest req, String path) {
    if (path.startsWith("/keys/")) {
      String key = path.substring("/keys/".length());
      // Store keys are lower-case hex; one copied in upper case names the same record.
      key = key.toLowerCase(java.util.Locale.ROOT);
      return STORE_KEY.matcher(key).matches() ? key : null;
    }
    String scope = req.getParameter("scope");
    String key = req.getParameter("key");
    if (key == null) {
      return null;
    }
    return IdempotencyFilter.storeKey("key", scope == null ? "anonymous" : scope, key);
  }

  private static ObjectNode describe(RecordInfo r) {
    ObjectNode node = JSON.createObjectNode();
    node.put("storeKey", r.key());
    node.put("state", r.state() == RecordInfo.State.IN_FLIGHT ? "in-flight" : "completed");
    node.put("requestHashPrefix",
        r.requestHash().substring(0, Math.min(12, r.requestHash().length())));
    node.put("ageMillis", r.age().toMillis());
    if (r.lockAge() != null) {
      node.put("lockAgeMillis", r.lockAge().toMillis());
    }
    node.put("expiresInMillis", r.expiresIn().toMillis());
    if (r.state() == RecordInfo.State.COMPLETED) {
      node.put("status", r.status());
      node.put("bodyBytes", r.bodySize());
    }
    return node;
  }

  private static void write(HttpServletResponse resp, int status, Object body)
      throws IOException {
    resp.setStatus(status);
    resp.setContentType("application/json");
    resp.setHeader("Cache-Control", "no-store");
    JSON.writeValue(resp.getOutputStream(), body);
  }
}
