package org.rlhfstream.ingest;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/** UTF-8 checks the validator and decoder need (protobuf keeps its own helpers internal). */
final class Utf8Text {

  private Utf8Text() {}

  /** The length of {@code s} in UTF-8, or -1 when it holds an unpaired surrogate (no UTF-8 form). */
  static int encodedLength(String s) {
    int bytes = 0;
    int n = s.length();
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        bytes += 1;
      } else if (c < 0x800) {
        bytes += 2;
      } else if (Character.isHighSurrogate(c)) {
        if (i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
          bytes += 4;
          i++;
        } else {
          return -1;
        }
      } else if (Character.isLowSurrogate(c)) {
        return -1;
      } else {
        bytes += 3;
      }
    }
    return bytes;
  }

  /** Whether {@code bytes} are well-formed UTF-8. */
  static boolean isValid(byte[] bytes) {
    for (byte b : bytes) {
      if (b < 0) {
        return strictlyDecodes(bytes); // only non-ASCII text needs the full check
      }
    }
    return true;
  }

  private static boolean strictlyDecodes(byte[] bytes) {
    try {
      StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes));
      return true;
    } catch (CharacterCodingException e) {
      return false;
    }
  }
}
