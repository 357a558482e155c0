// Chat formatting without a Jinja engine: GGUF files carry a Jinja chat template
// (tokenizer.chat_template); we recognise the common template families from characteristic
// substrings of its text and format conversations ourselves, following each family's published
// format.
//
// BOS: format_chat() never writes the model's leading BOS token. Tokenize its result with
// Tokenizer::encode(text, /*add_special=*/true, /*parse_special=*/true): the tokenizer adds BOS
// when the model's metadata asks for it, so it is never doubled. Special tokens inside the
// conversation (Llama 2's "</s><s>" between turns, "<|eot_id|>", "<|im_end|>", ...) are written
// as their text, which parse_special turns into the control tokens.
//
// Families and their output for [system S, user U1, assistant A1, user U2] with the generation
// prompt ("\n" is a newline):
//   llama-2            [INST] <<SYS>>\nS\n<</SYS>>\n\nU1 [/INST] A1 </s><s>[INST] U2 [/INST]
//   llama-3            <|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>...
//                      <|start_header_id|>assistant<|end_header_id|>\n\n
//   chatml             <|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU1<|im_end|>\n...
//                      <|im_start|>assistant\n
//   mistral-v1         " [INST] S\n\nU1 [/INST] A1</s> [INST] U2 [/INST]"
//   mistral-v3         [INST] S\n\nU1[/INST] A1</s>[INST] U2[/INST]
//   mistral-v3-tekken  [INST]S\n\nU1[/INST]A1</s>[INST]U2[/INST]
//   gemma              <start_of_turn>user\nS\n\nU1<end_of_turn>\n<start_of_turn>model\nA1<end_of_turn>\n...
//                      <start_of_turn>model\n
//   phi-3              <|system|>\nS<|end|>\n<|user|>\nU1<|end|>\n<|assistant|>\nA1<|end|>\n...<|assistant|>\n
// Llama 2, Llama 3 and Gemma trim the whitespace around each message, as their templates do;
// Mistral v3 trims assistant messages. Families without a system role (Mistral, Gemma) put the
// system message at the head of the first user message, followed by a blank line: the first turn
// then never changes as the conversation grows, so a session's KV prefix stays reusable. No
// family adds a default system message (Qwen's template does; pass one to get it).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace strata {

enum class ChatTemplateKind { Llama2, Llama3, ChatML, Mistral, MistralV3, MistralV3Tekken, Gemma, Phi3 };

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

// The family of a Jinja chat template, from substrings characteristic of it; nullopt when none
// is recognised (e.g. Mistral's v7 template with [SYSTEM_PROMPT]) — the caller reports that,
// naming the model.
std::optional<ChatTemplateKind> detect_chat_template(std::string_view jinja_source);

// A family by the name a configuration gives: chat_template_name()'s names, and the aliases
// "llama2", "llama3", "mistral" (= mistral-v1), "qwen" (= chatml), "phi3". Case-insensitive.
std::optional<ChatTemplateKind> parse_chat_template_name(std::string_view name);
std::string_view chat_template_name(ChatTemplateKind kind);  // "llama-2", "llama-3", "chatml", ...

// The prompt text for generating the assistant's next message (add_generation_prompt), or the
// conversation as it stands (false: e.g. to count its tokens). Throws Error(InvalidArgument)
// for an empty conversation, a role other than system/user/assistant, and, for the families
// whose templates require it (Llama 2, Mistral, Gemma), a system message that is not the first
// or user and assistant messages that do not alternate starting with the user.
std::string format_chat(ChatTemplateKind kind, std::span<const ChatMessage> messages, bool add_generation_prompt = true);

}  // namespace strata
