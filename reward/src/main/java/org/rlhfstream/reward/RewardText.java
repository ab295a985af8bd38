package org.rlhfstream.reward;

import java.util.Arrays;
import org.rlhfstream.model.TextTokenizer;

/**
 * How a prompt and a response become the token ids a reward model reads: the template, then the
 * last {@code maxTokens} tokens (the end of the response matters most). Training, the service's
 * scorer and a released model's {@code rlhf-reward.json} all use this one definition.
 */
record RewardText(String template, int maxTokens) {

  RewardText {
    if (!template.contains("{prompt}") || !template.contains("{response}")) {
      throw new IllegalArgumentException("template must contain {prompt} and {response}");
    }
  }

  /** The template filled in one pass, so braces inside the prompt are never expanded. */
  String format(String prompt, String response) {
    StringBuilder out = new StringBuilder(template.length() + prompt.length() + response.length());
    int i = 0;
    while (i < template.length()) {
      if (template.startsWith("{prompt}", i)) {
        out.append(prompt);
        i += "{prompt}".length();
      } else if (template.startsWith("{response}", i)) {
        out.append(response);
        i += "{response}".length();
      } else {
        out.append(template.charAt(i++));
      }
    }
    return out.toString();
  }

  int[] tokens(TextTokenizer tokenizer, int contextLimit, String prompt, String response) {
    int[] ids = tokenizer.encode(format(prompt, response));
    int max = Math.min(maxTokens, contextLimit);
    return ids.length <= max ? ids : Arrays.copyOfRange(ids, ids.length - max, ids.length);
  }
}
