package org.rlhfstream.deploy;

import io.vertx.core.json.JsonObject;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.rlhfstream.model.DecoderModel;
import org.rlhfstream.model.SequenceScorer;
import org.rlhfstream.model.TextTokenizer;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code rlhf score}: the reward of one text under a sequence-classification checkpoint. */
@Command(name = "score", mixinStandardHelpOptions = true,
    description = "Score a text with a Hugging Face *ForSequenceClassification (reward model) folder: the score at the last non-pad token.")
public final class ScoreCommand implements Callable<Integer> {

  @Option(names = "--model", required = true, description = "Hugging Face LlamaForSequenceClassification / Qwen2ForSequenceClassification folder.")
  Path model;

  @ArgGroup(exclusive = true, multiplicity = "1")
  Input input;

  static final class Input {
    @Option(names = "--text", required = true, description = "Text to score (tokenized with the folder's tokenizer.json).")
    String text;

    @Option(names = "--ids", required = true, description = "Token ids to score, comma-separated.")
    String ids;
  }

  @Option(names = "--device", defaultValue = "cpu", description = "DJL device: cpu, gpu, gpu:N (default: ${DEFAULT-VALUE}).")
  String device;

  @Option(names = "--output", defaultValue = "text", description = "text (the number) or json: {\"score\": x}.")
  OutputFormat output;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    try (DecoderModel m = ModelCli.load(model, device);
        TextTokenizer tok = ModelCli.tokenizer(model, input.text != null)) {
      int[] ids = input.text != null ? tok.encode(input.text) : ModelCli.parseIds("--ids", input.ids);
      if (ids.length == 0) {
        throw new UserError("nothing to score: the text is empty after tokenization");
      }
      float score = ModelCli.userErrors(() -> SequenceScorer.score(m, List.of(ids), true)[0]);
      PrintWriter out = spec.commandLine().getOut();
      out.println(output.isJson() ? new JsonObject().put("score", (double) score).encode() : Float.toString(score));
      out.flush();
      return RlhfCommand.EXIT_OK;
    }
  }
}
