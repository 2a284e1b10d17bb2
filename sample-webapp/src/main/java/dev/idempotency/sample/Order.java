package dev.idempotency.sample;

/** An order as the API returns it. Immutable. */
record Order(String id, String item, int quantity, String createdAt) {}
