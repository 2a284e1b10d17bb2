package dev.idempotency.sample;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.Optional;

/**
 * {@code POST /api/orders} creates an order from {@code {"item", "quantity"}}: {@code 201} with
 * a {@code Location}; {@code quantity < 1} or a malformed body is a {@code 400} problem; item
 * {@code "explode"} makes the handler throw ({@code 500}); query {@code delayMs} (0–10000) makes
 * it sleep first. {@code GET /api/orders/{id}} returns one order. Thread-safe.
 */
public final class OrdersServlet extends HttpServlet {

  static final String EXPLODE = "explode";

  private transient SampleApp app;

  @Override
  public void init() {
    app = SampleApp.of(getServletContext());
  }

  @Override
  protected void doPost(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    app.executed();
    try {
      Http.sleep(Http.intParameter(request, "delayMs", 0, 0, 10_000));
    } catch (Http.BadParameter e) {
      e.send(response);
      return;
    }
    JsonNode body;
    try {
      body = Http.JSON.readTree(request.getInputStream());
    } catch (JsonProcessingException e) {
      invalid(response, "the body is not JSON: " + e.getOriginalMessage());
      return;
    }
    if (body == null || !body.isObject()) {
      invalid(response, "the body must be a JSON object {\"item\": string, \"quantity\": int}");
      return;
    }
    JsonNode item = body.get("item");
    JsonNode quantity = body.get("quantity");
    if (item == null || !item.isTextual() || item.asText().isBlank()) {
      invalid(response, "item must be a non-empty string");
      return;
    }
    if (quantity == null || !quantity.canConvertToInt() || !quantity.isIntegralNumber()) {
      invalid(response, "quantity must be an integer");
      return;
    }
    if (quantity.intValue() < 1) {
      invalid(response, "quantity must be at least 1, was " + quantity.intValue());
      return;
    }
    if (EXPLODE.equals(item.asText())) {
      throw new IllegalStateException("the order handler failed on purpose (item \"explode\")");
    }
    Order order = app.orders().create(item.asText(), quantity.intValue());
    response.setHeader("Location", request.getContextPath() + "/api/orders/" + order.id());
    Http.json(response, HttpServletResponse.SC_CREATED, order);
  }

  @Override
  protected void doGet(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    String path = request.getPathInfo();
    String id = path == null ? "" : path.substring(1);
    Optional<Order> order = id.isEmpty() ? Optional.empty() : app.orders().find(id);
    if (order.isPresent()) {
      Http.json(response, HttpServletResponse.SC_OK, order.get());
    } else {
      Http.problem(response, 404, "order-not-found", "Order not found",
          "no order with id \"" + id + "\"");
    }
  }

  private static void invalid(HttpServletResponse response, String detail) throws IOException {
    Http.problem(response, 400, "invalid-order", "Invalid order", detail);
  }
}
