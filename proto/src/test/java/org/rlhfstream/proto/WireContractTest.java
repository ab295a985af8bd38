package org.rlhfstream.proto;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Timestamp;
import com.google.protobuf.util.JsonFormat;
import org.junit.jupiter.api.Test;
import org.rlhfstream.proto.next.ComparisonNext;
import org.rlhfstream.proto.v1.AdapterRelease;
import org.rlhfstream.proto.v1.AdapterVersion;
import org.rlhfstream.proto.v1.Artifact;
import org.rlhfstream.proto.v1.Comparison;
import org.rlhfstream.proto.v1.ComparisonBatch;
import org.rlhfstream.proto.v1.FeedbackProto;
import org.rlhfstream.proto.v1.HeldOutMetrics;
import org.rlhfstream.proto.v1.LoraSpec;
import org.rlhfstream.proto.v1.Prompt;
import org.rlhfstream.proto.v1.RewardModelRelease;

class WireContractTest {

  static Comparison sampleComparison() {
    return Comparison.newBuilder()
        .setEventId("evt-1")
        .setTenant("acme")
        .setProject("chat")
        .setLabelerId("labeler-7")
        .setSourceApp("label-studio")
        .setPrompt("Say hi")
        .setChosen("Hi! 😀 café")
        .setRejected("go away")
        .setStrength(0.75f)
        .setPolicy(AdapterVersion.newBuilder().setAdapterName("default").setVersion(3))
        .putMetadata("task", "greeting")
        .setCreatedAt(Timestamp.newBuilder().setSeconds(1_764_000_000L).setNanos(5))
        .build();
  }

  static AdapterRelease sampleAdapterRelease() {
    return AdapterRelease.newBuilder()
        .setAdapterName("default")
        .setVersion(4)
        .setBaseModelId("tiny")
        .setBaseModelSha256("ab".repeat(32))
        .setLora(LoraSpec.newBuilder().setR(8).setAlpha(16).setDropout(0.05f)
            .addTargetModules("q_proj").addTargetModules("v_proj").setUseRslora(true))
        .setArtifact(Artifact.newBuilder().setUri("file:///data/artifacts/adapters/default/4")
            .setSha256("cd".repeat(32)).setSizeBytes(12345).setFormat("peft-lora-safetensors"))
        .setRewardModelName("rm")
        .setRewardModelVersion(2)
        .setParentVersion(3)
        .putTrainingMetrics("objective/kl", 0.02)
        .build();
  }

  static RewardModelRelease sampleRewardRelease() {
    return RewardModelRelease.newBuilder()
        .setName("rm").setVersion(2).setBaseModelId("tiny")
        .setArtifact(Artifact.newBuilder().setUri("file:///x").setSha256("00".repeat(32)))
        .setComparisonsTrained(1000)
        .setHeldOut(HeldOutMetrics.newBuilder().setAccuracy(0.9).setLoss(0.3).setMeanMargin(1.2).setExamples(50))
        .build();
  }

  @Test
  void binaryRoundTripKeepsEveryField() throws InvalidProtocolBufferException {
    Comparison c = sampleComparison();
    assertEquals(c, Comparison.parseFrom(c.toByteArray()));
    ComparisonBatch batch = ComparisonBatch.newBuilder().addComparisons(c).addComparisons(c.toBuilder().setEventId("evt-2")).build();
    assertEquals(batch, ComparisonBatch.parseFrom(batch.toByteArray()));
    Prompt p = Prompt.newBuilder().setPromptId("p1").setTenant("acme").setText("Write a haiku").build();
    assertEquals(p, Prompt.parseFrom(p.toByteArray()));
    assertEquals(sampleAdapterRelease(), AdapterRelease.parseFrom(sampleAdapterRelease().toByteArray()));
    assertEquals(sampleRewardRelease(), RewardModelRelease.parseFrom(sampleRewardRelease().toByteArray()));
  }

  @Test
  void optionalStrengthHasPresence() throws InvalidProtocolBufferException {
    Comparison without = sampleComparison().toBuilder().clearStrength().build();
    assertFalse(Comparison.parseFrom(without.toByteArray()).hasStrength());
    Comparison zero = sampleComparison().toBuilder().setStrength(0f).build();
    assertTrue(Comparison.parseFrom(zero.toByteArray()).hasStrength(), "an explicit 0 must survive the wire");
  }

  @Test
  void proto3JsonRoundTrip() throws InvalidProtocolBufferException {
    Comparison c = sampleComparison();
    String json = JsonFormat.printer().print(c);
    // proto3 JSON uses lowerCamelCase names and RFC 3339 timestamps.
    assertTrue(json.contains("\"eventId\": \"evt-1\""), json);
    assertTrue(json.contains("\"createdAt\": \"2025-11-24T"), json);
    Comparison.Builder back = Comparison.newBuilder();
    JsonFormat.parser().merge(json, back);
    assertEquals(c, back.build());

    // The original snake_case field names are accepted as well.
    Comparison.Builder snake = Comparison.newBuilder();
    JsonFormat.parser().merge("{\"event_id\":\"e\",\"labeler_id\":\"l\"}", snake);
    assertEquals("e", snake.getEventId());
    assertEquals("l", snake.getLabelerId());

    AdapterRelease r = sampleAdapterRelease();
    AdapterRelease.Builder rb = AdapterRelease.newBuilder();
    JsonFormat.parser().merge(JsonFormat.printer().print(r), rb);
    assertEquals(r, rb.build());
  }

  @Test
  void oldReaderToleratesNewerMessageAndKeepsUnknownFields() throws InvalidProtocolBufferException {
    ComparisonNext next = ComparisonNext.newBuilder()
        .setEventId("evt-9").setTenant("acme").setPrompt("p").setChosen("a").setRejected("b")
        .setRationale("a is friendlier").addTags("tone").setLabelerConfidence(0.8)
        .build();
    Comparison old = Comparison.parseFrom(next.toByteArray());
    assertEquals("evt-9", old.getEventId());
    assertEquals("a", old.getChosen());
    // The old reader does not understand fields 14–16 but keeps them, so a relay that re-serialises
    // (ingest, a DLQ replay) does not drop what a newer labeling app sent.
    assertTrue(old.getUnknownFields().hasField(14));
    assertEquals(next, ComparisonNext.parseFrom(old.toByteArray()));

    // JSON readers of the old schema can be told to skip unknown fields instead of failing.
    String newerJson = "{\"eventId\":\"e\",\"rationale\":\"why\"}";
    Comparison.Builder lenient = Comparison.newBuilder();
    JsonFormat.parser().ignoringUnknownFields().merge(newerJson, lenient);
    assertEquals("e", lenient.getEventId());
  }

  @Test
  void serviceDescriptorDeclaresBothIngestMethods() {
    var service = FeedbackProto.getDescriptor().findServiceByName("FeedbackService");
    assertEquals("rlhf.v1.FeedbackService", service.getFullName());
    assertFalse(service.findMethodByName("SubmitBatch").isClientStreaming());
    assertTrue(service.findMethodByName("StreamComparisons").isClientStreaming());
  }
}
