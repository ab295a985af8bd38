package org.rlhfstream.ingest;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.WireFormat;
import com.google.protobuf.util.JsonFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.rlhfstream.proto.v1.Comparison;
import org.rlhfstream.proto.v1.ComparisonBatch;

/**
 * Turns a request body into comparisons: proto3 JSON (one {@code Comparison}, or a
 * {@code ComparisonBatch} recognised by its {@code comparisons} field) or binary protobuf. Every
 * failure is an {@link IngestException} with {@link Rejection#MALFORMED} that says where.
 */
final class ComparisonDecoder {

  /**
   * Stands in for bytes that are not UTF-8 so that the JSON can still be parsed and the field that
   * held them named (a noncharacter: no legitimate text uses it).
   */
  static final char INVALID_UTF8_MARK = '\uFDD0';

  private static final JsonFormat.Parser JSON = JsonFormat.parser();
  private static final JsonFactory JACKSON = new JsonFactory();

  private ComparisonDecoder() {}

  /**
   * What was decoded: the comparisons, whether the sender used the batch form, and for binary
   * protobuf each comparison's bytes as received (null for JSON).
   */
  record Decoded(List<Comparison> comparisons, boolean batch, List<byte[]> wire) {}

  static Decoded fromJson(byte[] body) {
    String text = Utf8Text.isValid(body) ? new String(body, StandardCharsets.UTF_8) : decodeMarkingInvalid(body);
    boolean batch = isBatchJson(body);
    try {
      if (batch) {
        ComparisonBatch.Builder b = ComparisonBatch.newBuilder();
        JSON.merge(text, b);
        return new Decoded(b.getComparisonsList(), true, null);
      }
      Comparison.Builder c = Comparison.newBuilder();
      JSON.merge(text, c);
      return new Decoded(List.of(c.build()), false, null);
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      throw malformed("json", "not valid proto3 JSON for rlhf.v1." + (batch ? "ComparisonBatch" : "Comparison")
          + ": " + cleanMessage(e));
    }
  }

  /**
   * Binary protobuf: a {@code ComparisonBatch}, or one {@code Comparison} when {@code single}.
   * Invalid UTF-8 in a string field is reported with the field's path.
   */
  static Decoded fromProtobuf(byte[] body, boolean single) {
    try {
      if (single) {
        return new Decoded(List.of(Comparison.parseFrom(body)), false, List.of(body));
      }
      return splitBatch(body);
    } catch (InvalidProtocolBufferException e) {
      Descriptor type = single ? Comparison.getDescriptor() : ComparisonBatch.getDescriptor();
      String field = findInvalidUtf8(ByteString.copyFrom(body), type, "");
      if (field != null) {
        throw IngestException.of(Rejection.MALFORMED, new Violation(field, "utf8", "is not valid UTF-8"));
      }
      throw malformed("protobuf", "not a valid rlhf.v1." + type.getName() + ": " + e.getMessage());
    }
  }

  /**
   * Parses a ComparisonBatch item by item, keeping each item's bytes: they are written to Kafka
   * as received, without re-encoding. Fields other than {@code comparisons} are skipped, as the
   * generated parser would keep them as unknown fields of the batch.
   */
  private static Decoded splitBatch(byte[] body) throws InvalidProtocolBufferException {
    CodedInputStream in = CodedInputStream.newInstance(body);
    List<Comparison> items = new ArrayList<>();
    List<byte[]> wire = new ArrayList<>();
    try {
      while (true) {
        int tag = in.readTag();
        if (tag == 0) {
          break;
        }
        if (tag != COMPARISONS_TAG) {
          in.skipField(tag);
          continue;
        }
        int length = in.readRawVarint32();
        int start = in.getTotalBytesRead();
        if (length < 0 || start + length > body.length) {
          throw new InvalidProtocolBufferException("a comparison runs past the end of the body");
        }
        byte[] item = Arrays.copyOfRange(body, start, start + length);
        items.add(Comparison.parseFrom(item));
        wire.add(item);
        in.skipRawBytes(length);
      }
    } catch (InvalidProtocolBufferException e) {
      throw e;
    } catch (IOException e) {
      throw new InvalidProtocolBufferException(e);
    }
    return new Decoded(items, true, wire);
  }

  /** Field 1 of ComparisonBatch, length-delimited. */
  private static final int COMPARISONS_TAG = (ComparisonBatch.COMPARISONS_FIELD_NUMBER << 3) | WireFormat.WIRETYPE_LENGTH_DELIMITED;

  /** One streamed gRPC message: a {@code Comparison}; {@code path} names it in errors. */
  static Comparison streamedComparison(byte[] message, String path) {
    try {
      return Comparison.parseFrom(message);
    } catch (InvalidProtocolBufferException e) {
      String field = findInvalidUtf8(ByteString.copyFrom(message), Comparison.getDescriptor(), path + ".");
      if (field != null) {
        throw IngestException.of(Rejection.MALFORMED, new Violation(field, "utf8", "is not valid UTF-8"));
      }
      throw IngestException.of(Rejection.MALFORMED, new Violation(path, "protobuf",
          "not a valid rlhf.v1.Comparison: " + e.getMessage()));
    }
  }

  /** A batch is an object whose first field is {@code comparisons} (its only field). */
  private static boolean isBatchJson(byte[] body) {
    try (JsonParser p = JACKSON.createParser(body)) {
      JsonToken first = p.nextToken();
      if (first != JsonToken.START_OBJECT) {
        throw malformed("json", "the body must be a JSON object (one comparison, or {\"comparisons\": [...]})"
            + (first == null ? ", got nothing" : ", got " + first.asString()));
      }
      JsonToken next = p.nextToken();
      return next == JsonToken.FIELD_NAME && "comparisons".equals(p.currentName());
    } catch (IOException e) {
      // Jackson stops at the first syntax error; let the full parser describe it.
      return false;
    }
  }

  private static String decodeMarkingInvalid(byte[] body) {
    CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPLACE)
        .onUnmappableCharacter(CodingErrorAction.REPLACE)
        .replaceWith(String.valueOf(INVALID_UTF8_MARK));
    try {
      CharBuffer chars = decoder.decode(ByteBuffer.wrap(body));
      return chars.toString();
    } catch (CharacterCodingException e) {
      throw malformed("json", "the body is not valid UTF-8");
    }
  }

  /**
   * Walks the wire format of {@code type} and returns the path of the first string field whose
   * bytes are not UTF-8 ({@code comparisons[2].chosen}, {@code metadata[task]}), or null.
   */
  static String findInvalidUtf8(ByteString data, Descriptor type, String prefix) {
    try {
      CodedInputStream in = data.newCodedInput();
      int[] repeatIndex = new int[type.getFields().size() + 1];
      while (true) {
        int tag = in.readTag();
        if (tag == 0) {
          return null;
        }
        FieldDescriptor field = type.findFieldByNumber(WireFormat.getTagFieldNumber(tag));
        if (field == null || WireFormat.getTagWireType(tag) != WireFormat.WIRETYPE_LENGTH_DELIMITED) {
          in.skipField(tag);
          continue;
        }
        ByteString value = in.readBytes();
        String path = prefix + field.getName();
        if (field.isRepeated() && !field.isMapField()) {
          path += "[" + repeatIndex[field.getIndex()]++ + "]";
        }
        if (field.getType() == FieldDescriptor.Type.STRING && !value.isValidUtf8()) {
          return path;
        }
        if (field.getType() == FieldDescriptor.Type.MESSAGE) {
          String inner = field.isMapField()
              ? findInvalidUtf8InMapEntry(value, field.getMessageType(), path)
              : findInvalidUtf8(value, field.getMessageType(), path + ".");
          if (inner != null) {
            return inner;
          }
        }
      }
    } catch (IOException e) {
      return null; // not a UTF-8 problem after all
    }
  }

  private static String findInvalidUtf8InMapEntry(ByteString entry, Descriptor entryType, String mapPath) throws IOException {
    CodedInputStream in = entry.newCodedInput();
    String key = null;
    boolean badValue = false;
    while (true) {
      int tag = in.readTag();
      if (tag == 0) {
        break;
      }
      int number = WireFormat.getTagFieldNumber(tag);
      if (WireFormat.getTagWireType(tag) != WireFormat.WIRETYPE_LENGTH_DELIMITED) {
        in.skipField(tag);
        continue;
      }
      ByteString v = in.readBytes();
      if (number == 1) {
        if (!v.isValidUtf8()) {
          return mapPath + " (a key)";
        }
        key = v.toStringUtf8();
      } else if (number == 2 && entryType.findFieldByNumber(2).getType() == FieldDescriptor.Type.STRING && !v.isValidUtf8()) {
        badValue = true;
      }
    }
    return badValue ? mapPath + "[" + key + "]" : null;
  }

  private static IngestException malformed(String rule, String message) {
    return IngestException.of(Rejection.MALFORMED, new Violation("body", rule, message));
  }

  /** Parser messages sometimes carry a Java exception's class name; keep only what helps. */
  private static String cleanMessage(Exception e) {
    String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    return m.replaceFirst("^[a-z.]+\\.[A-Z][A-Za-z]*(Exception|Error): ", "");
  }
}
