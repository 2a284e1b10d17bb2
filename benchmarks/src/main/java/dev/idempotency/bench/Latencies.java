package dev.idempotency.bench;

import java.util.Arrays;

/**
 * Latencies of one load thread, in nanoseconds, kept whole and sorted once at the end: a run of
 * a few seconds holds well under a million samples. Not thread-safe: one per thread, merged after
 * the threads stopped.
 */
final class Latencies {

  private long[] samples = new long[1 << 14];
  private int count;

  void add(long nanos) {
    if (count == samples.length) {
      samples = Arrays.copyOf(samples, count * 2);
    }
    samples[count++] = nanos;
  }

  int count() {
    return count;
  }

  static long[] sortedUnion(Iterable<Latencies> parts) {
    int total = 0;
    for (Latencies part : parts) {
      total += part.count;
    }
    long[] all = new long[total];
    int at = 0;
    for (Latencies part : parts) {
      System.arraycopy(part.samples, 0, all, at, part.count);
      at += part.count;
    }
    Arrays.sort(all);
    return all;
  }

  /** The {@code p}-th percentile (0–100) of sorted samples, nearest rank; 0 when empty. */
  static long percentile(long[] sorted, double p) {
    if (sorted.length == 0) {
      return 0;
    }
    int rank = (int) Math.ceil(p / 100 * sorted.length);
    return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
  }
}
