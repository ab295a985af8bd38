package org.rlhfstream.reward;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * The event ids a reward-model lineage has already used (trained on or held out), as 64-bit
 * fingerprints in an open-addressing hash set: 8 bytes per event, so tens of millions fit. Saved
 * with every checkpoint, so a duplicate is recognised however late it arrives.
 */
final class SeenEvents {

  private static final long EMPTY = 0L; // fingerprint 0 is remapped to 1 so that 0 marks a free slot

  private long[] slots = new long[1 << 12];
  private int size;

  /** Adds the id; returns false when it was already there. */
  boolean add(String eventId) {
    return addFingerprint(EventIds.fingerprint(eventId));
  }

  boolean contains(String eventId) {
    long f = normalise(EventIds.fingerprint(eventId));
    int mask = slots.length - 1;
    for (int i = mix(f) & mask; ; i = (i + 1) & mask) {
      if (slots[i] == EMPTY) {
        return false;
      }
      if (slots[i] == f) {
        return true;
      }
    }
  }

  int size() {
    return size;
  }

  private boolean addFingerprint(long fingerprint) {
    long f = normalise(fingerprint);
    if ((size + 1) * 4L > slots.length * 3L) {
      grow();
    }
    int mask = slots.length - 1;
    for (int i = mix(f) & mask; ; i = (i + 1) & mask) {
      if (slots[i] == EMPTY) {
        slots[i] = f;
        size++;
        return true;
      }
      if (slots[i] == f) {
        return false;
      }
    }
  }

  private void grow() {
    long[] old = slots;
    slots = new long[old.length * 2];
    size = 0;
    for (long f : old) {
      if (f != EMPTY) {
        addFingerprint(f);
      }
    }
  }

  private static long normalise(long f) {
    return f == EMPTY ? 1L : f;
  }

  private static int mix(long f) {
    return (int) (f ^ (f >>> 32)) * 0x9E3779B9;
  }

  void writeTo(OutputStream out) throws IOException {
    DataOutputStream data = new DataOutputStream(out);
    data.writeInt(size);
    for (long f : slots) {
      if (f != EMPTY) {
        data.writeLong(f);
      }
    }
    data.flush();
  }

  static SeenEvents readFrom(InputStream in) throws IOException {
    DataInputStream data = new DataInputStream(in);
    SeenEvents s = new SeenEvents();
    int n = data.readInt();
    for (int i = 0; i < n; i++) {
      s.addFingerprint(data.readLong());
    }
    return s;
  }
}
