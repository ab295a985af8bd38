package org.rlhfstream.reward;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/** Stable 64-bit fingerprints of event ids: the same on every machine and across restarts. */
final class EventIds {

  private EventIds() {}

  /** The first 8 bytes of SHA-256(eventId), as a long. Collisions are ~n²/2⁶⁵: none in practice. */
  static long fingerprint(String eventId) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(eventId.getBytes(StandardCharsets.UTF_8));
      long v = 0;
      for (int i = 0; i < 8; i++) {
        v = (v << 8) | (d[i] & 0xff);
      }
      return v;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Whether an event belongs to the held-out split: a fixed function of the id alone, so an
   * event is in the same split on every run and after every restart.
   */
  static boolean isHeldOut(String eventId, double fraction) {
    long bucket = Long.remainderUnsigned(fingerprint("held-out:" + eventId), 1_000_000L);
    return bucket < Math.round(fraction * 1_000_000L);
  }
}
