#!/usr/bin/env bash
# Everything one call on the lent GPU machine does, from the repository root there, with the
# folder made by native/device/pack.sh carried as .gpu/: build the bridge against the machine's
# PyTorch, `rlhf doctor`, the parity tests on the GPU (and the CPU reference tests through the
# bridge), the Java LoRA-step benchmark, its PyTorch + transformers + PEFT twin, and Hugging Face's
# own bf16 greedy decoding of the reference model. Full logs go to $OUT/logs.tgz; a summary table
# is printed last. Stages are independent: one failing does not stop the others.
#
# Usage: bash .gpu/repo/native/device/run-on-device.sh [--quick]   (--quick: one shape, fewer iterations;
#        RLHF_SKIP_BENCH=1: the bridge, doctor and tests only)
set -u
G="$(cd "$(dirname "$0")/../../.." && pwd)"   # the carried folder (.gpu)
OUT="${OUT:-/tmp/rlhf-out}"
LOGS="$OUT/logs"
mkdir -p "$LOGS"
quick=0
[ "${1:-}" = "--quick" ] && quick=1
start_all=$(date +%s)
budget=${RLHF_DEVICE_BUDGET_S:-570}   # stop starting stages past this (the call's limit is 600 s)
# For a dry run on a machine without a GPU: RLHF_DEVICE=cpu RLHF_BENCH_MODEL=tiny, and
# RLHF_BRIDGE_HOME pointing at an installed bridge with RLHF_SKIP_BRIDGE_BUILD=1.
device="${RLHF_DEVICE:-gpu}"
bench_model="${RLHF_BENCH_MODEL:-qwen2.5-0.5b}"

stage() {   # stage NAME SECONDS CMD...: runs with a time limit, logs to $LOGS/NAME.log
  local name="$1" limit="$2" t0 rc left
  shift 2
  left=$((budget - ($(date +%s) - start_all)))
  if [ "$left" -lt 20 ]; then
    echo "$name skipped (budget spent)" | tee -a "$LOGS/stages.txt"
    return 1
  fi
  [ "$limit" -gt "$left" ] && limit="$left"
  t0=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" > "$LOGS/$name.log" 2>&1
  rc=$?
  echo "$name rc=$rc $(( $(date +%s) - t0 ))s" | tee -a "$LOGS/stages.txt"
  return $rc
}

# ---- the machine and the runtime -----------------------------------------------------------------
RT=/tmp/rlhf-rt
rm -rf "$RT" && mkdir -p "$RT" && tar xzf "$G/runtime.tgz" -C "$RT"
JAVA="$RT/jre/bin/java"
CP="$RT/classes/deploy:$RT/classes/model:$RT/classes/platform:$RT/classes/proto:$RT/lib/*"
# The JUnit console takes no wildcards in its class path: list the jars.
TESTCP="$RT/classes/model-tests:$RT/classes/model:$(ls "$RT"/lib/*.jar | grep -v junit-platform-console | tr '\n' ':')"
JUNIT="$(ls "$RT"/lib/junit-platform-console-standalone-*.jar)"
export RLHF_BRIDGE_HOME="${RLHF_BRIDGE_HOME:-/tmp/rlhf-bridge}"
JOPTS="-Dai.djl.offline=true -Xss4m -XX:+UseParallelGC"

stage machine 60 bash -c 'nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv;
  python3 -c "import torch, transformers, peft; print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, \"transformers\", transformers.__version__, \"peft\", peft.__version__)";
  g++ --version | head -1; nproc; free -g | head -2; '"$JAVA"' -version'

# ---- 1. the bridge: one command, as the README gives it -----------------------------------------
if [ -z "${RLHF_SKIP_BRIDGE_BUILD:-}" ]; then
  stage bridge 240 bash "$G/repo/native/build-bridge.sh" --jni "$G/jni"
fi

# ---- 2. rlhf doctor -------------------------------------------------------------------------------
stage doctor 90 "$JAVA" $JOPTS -cp "$CP" org.rlhfstream.deploy.RlhfCommand doctor --device "$device"

# ---- 3. tests through the bridge: parity and fast ops on the GPU, the CPU reference suite ----------
[ -f "$RLHF_BRIDGE_HOME/bridge.env" ] && . "$RLHF_BRIDGE_HOME/bridge.env"
stage tests-gpu 180 "$JAVA" $JOPTS -Drlhf.test.device="$device" -jar "$JUNIT" execute -cp "$TESTCP" \
  --select-class org.rlhfstream.model.BridgeParityTest --select-class org.rlhfstream.model.nativeops.FastOpsTest \
  --select-class org.rlhfstream.model.nativeops.BridgeSemanticsTest \
  --details=tree --disable-banner --disable-ansi-colors --reports-dir "$LOGS/junit-gpu"
stage tests-cpu 150 "$JAVA" $JOPTS -jar "$JUNIT" execute -cp "$TESTCP" \
  --select-class org.rlhfstream.model.HfReferenceTest --select-class org.rlhfstream.model.GenerationTest \
  --select-class org.rlhfstream.model.LoraTest --select-class org.rlhfstream.model.BridgeParityTest \
  --select-class org.rlhfstream.model.nativeops.FastOpsTest --select-class org.rlhfstream.model.nativeops.BridgeSemanticsTest \
  --details=tree --disable-banner --disable-ansi-colors --reports-dir "$LOGS/junit-cpu"

# ---- 4. the benchmark: Java through the bridge, then the PyTorch twin --------------------------------
if [ -z "${RLHF_SKIP_BENCH:-}" ]; then
shapes="8x512,16x1024"; iters=10; warmup=3
[ "$quick" = 1 ] && { shapes="8x512"; iters=5; warmup=2; }
shapes="${RLHF_SHAPES:-$shapes}"
mkdir -p "$LOGS/traces"
stage bench-java 240 "$JAVA" $JOPTS -Xmx8g -cp "$CP" org.rlhfstream.deploy.RlhfCommand bench gpu \
  --device "$device" --model "$bench_model" --dtype fp32,bf16 --shapes "$shapes" --warmup "$warmup" --iters "$iters" \
  --profile "$LOGS/traces" --output json
grep '^{"results"' "$LOGS/bench-java.log" > "$OUT/bench-java.json" 2>/dev/null
# float32 with TF32 (FastOps.setTf32), one shape: what the switch buys.
stage bench-java-tf32 90 "$JAVA" $JOPTS -Xmx8g -cp "$CP" org.rlhfstream.deploy.RlhfCommand bench gpu \
  --device "$device" --model "$bench_model" --dtype fp32 --shapes "${shapes%%,*}" --warmup "$warmup" --iters "$iters" \
  --tf32 --output json
grep '^{"results"' "$LOGS/bench-java-tf32.log" >> "$OUT/bench-java.json" 2>/dev/null
stage bench-python 240 env PYTHONUNBUFFERED=1 python3 "$G/repo/model/bench/gpu_lora_step.py" \
  --dtype fp32,bf16 --attn eager,sdpa --shapes "$shapes" --warmup "$warmup" --iters "$iters" --profile "$LOGS/traces"
grep '^{' "$LOGS/bench-python.log" > "$OUT/bench-python.jsonl" 2>/dev/null

# Where the GPU time goes, from one profiled step of each case; the traces themselves are large,
# so only the two bf16 SDPA traces of the larger shape come back (compressed).
stage traces 60 python3 "$G/repo/native/device/trace_summary.py" "$LOGS"/traces/*.json
for t in java-bf16-16x1024 python-sdpa-bf16-16x1024; do
  [ -f "$LOGS/traces/$t.json" ] && gzip -c "$LOGS/traces/$t.json" > "$OUT/$t.json.gz"
done
rm -rf "$LOGS/traces"
fi

# ---- 5. Hugging Face's own bf16 greedy decoding of the reference model (context for the parity) ----
stage hf-bf16-greedy 60 python3 "$G/repo/model/bench/hf_reference_bf16.py" "$G/repo/model/hf-reference/llama-tiny"

# ---- summary ----------------------------------------------------------------------------------------
echo "total $(( $(date +%s) - start_all ))s" >> "$LOGS/stages.txt"
python3 "$G/repo/native/device/summarize.py" "$OUT" > "$OUT/summary.txt" 2>&1
tar czf "$OUT/logs.tgz" -C "$OUT" logs && rm -rf "$LOGS"
cat "$OUT/summary.txt"
