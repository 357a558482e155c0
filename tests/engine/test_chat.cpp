// Chat templates: each family is recognised from an excerpt of its published Jinja template and
// formats a conversation exactly as the family's documented format says; the result tokenizes
// with one BOS. Fill-in-the-middle prompts use the vocabulary's FIM tokens.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/chat/chat_template.h"
#include "engine/chat/fim.h"
#include "engine/core/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/plugin/plugin_registry.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/support/test_paths.h"

namespace strata {
namespace {

// Excerpts of the templates as published with the models (tokenizer_config.json), enough to be
// characteristic. "\\n" is the two characters \ n, as most templates write newlines inside
// Jinja string literals.
const char* const kLlama2 =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
    "messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif "
    "%}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ "
    "raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if "
    "loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + "
    "'\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if "
    "message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] "
    "== 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";
const char* const kLlama3 =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 "
    "%}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
const char* const kQwen2 =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
    "'<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + "
    "message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt "
    "%}{{ '<|im_start|>assistant\\n' }}{% endif %}";
const char* const kMistralV1 =
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ "
    "raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if "
    "message['role'] == 'user' %}{{ ' [INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == "
    "'assistant' %}{{ ' ' + message['content'] + eos_token }}{% else %}{{ raise_exception('Only user and assistant "
    "roles are supported!') }}{% endif %}{% endfor %}";
const char* const kMistralV3 =
    "{%- if messages[0]['role'] == 'system' %}\n    {%- set system_message = messages[0]['content'] %}\n    {%- set "
    "loop_messages = messages[1:] %}\n{%- else %}\n    {%- set loop_messages = messages %}\n{%- endif %}\n\n{{- "
    "bos_token }}\n{%- for message in loop_messages %}\n    {%- if message['role'] == 'user' %}\n        {%- if "
    "loop.last and system_message is defined %}\n            {{- '[INST] ' + system_message + '\\n\\n' + "
    "message['content'] + '[/INST]' }}\n        {%- else %}\n            {{- '[INST] ' + message['content'] + "
    "'[/INST]' }}\n        {%- endif %}\n    {%- elif message['role'] == 'assistant' %}\n        {{- ' ' + "
    "message['content']|trim + eos_token}}\n    {%- endif %}\n{%- endfor %}\n";
const char* const kMistralNemo =
    "{{- bos_token }}\n{%- for message in loop_messages %}\n    {%- if message[\"role\"] == \"user\" %}\n        {%- "
    "if loop.last and system_message is defined %}\n            {{- \"[INST]\" + system_message + \"\\n\\n\" + "
    "message[\"content\"] + \"[/INST]\" }}\n        {%- else %}\n            {{- \"[INST]\" + message[\"content\"] + "
    "\"[/INST]\" }}\n        {%- endif %}\n    {%- elif message[\"role\"] == \"assistant\" %}\n        {{- "
    "message[\"content\"] + eos_token}}\n    {%- endif %}\n{%- endfor %}\n";
const char* const kGemma =
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% "
    "endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ "
    "raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if "
    "(message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif "
    "%}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if "
    "add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}";
const char* const kPhi3 =
    "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\\n' + message['content'] + "
    "'<|end|>\\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\\n' + message['content'] + '<|end|>\\n'}}{% elif "
    "message['role'] == 'assistant' %}{{'<|assistant|>\\n' + message['content'] + '<|end|>\\n'}}{% endif %}{% "
    "endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}";
// Not supported: Zephyr (<|user|> turns closed by </s>) and Mistral v7 ([SYSTEM_PROMPT]).
const char* const kZephyr =
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\\n' + message['content'] + "
    "eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\\n'  + message['content'] + "
    "eos_token }}\n{% endif %}\n{% endfor %}";
const char* const kMistralV7 =
    "{{- bos_token }}{%- if system_message is defined %}{{- '[SYSTEM_PROMPT]' + system_message + '[/SYSTEM_PROMPT]' "
    "}}{%- endif %}{%- for message in loop_messages %}{%- if message['role'] == 'user' %}{{- '[INST]' + "
    "message['content'] + '[/INST]' }}{%- endif %}{%- endfor %}";

const std::vector<ChatMessage> kConversation = {
    {"system", "You are terse."},
    {"user", "Hi!"},
    {"assistant", "Hello."},
    {"user", "What is 2+2?"},
};

TEST(ChatTemplate, DetectsEachFamily) {
  EXPECT_EQ(detect_chat_template(kLlama2), ChatTemplateKind::Llama2);
  EXPECT_EQ(detect_chat_template(kLlama3), ChatTemplateKind::Llama3);
  EXPECT_EQ(detect_chat_template(kQwen2), ChatTemplateKind::ChatML);
  EXPECT_EQ(detect_chat_template(kMistralV1), ChatTemplateKind::Mistral);
  EXPECT_EQ(detect_chat_template(kMistralV3), ChatTemplateKind::MistralV3);
  EXPECT_EQ(detect_chat_template(kMistralNemo), ChatTemplateKind::MistralV3Tekken);
  EXPECT_EQ(detect_chat_template(kGemma), ChatTemplateKind::Gemma);
  EXPECT_EQ(detect_chat_template(kPhi3), ChatTemplateKind::Phi3);
  EXPECT_EQ(detect_chat_template(kZephyr), std::nullopt);
  EXPECT_EQ(detect_chat_template(kMistralV7), std::nullopt);
  EXPECT_EQ(detect_chat_template(""), std::nullopt);
  EXPECT_EQ(detect_chat_template("{{ messages }}"), std::nullopt);
}

TEST(ChatTemplate, NamesRoundTrip) {
  for (auto kind : {ChatTemplateKind::Llama2, ChatTemplateKind::Llama3, ChatTemplateKind::ChatML,
                    ChatTemplateKind::Mistral, ChatTemplateKind::MistralV3, ChatTemplateKind::MistralV3Tekken,
                    ChatTemplateKind::Gemma, ChatTemplateKind::Phi3})
    EXPECT_EQ(parse_chat_template_name(chat_template_name(kind)), kind) << chat_template_name(kind);
  EXPECT_EQ(chat_template_name(ChatTemplateKind::Llama3), "llama-3");
  EXPECT_EQ(parse_chat_template_name("ChatML"), ChatTemplateKind::ChatML);
  EXPECT_EQ(parse_chat_template_name("mistral"), ChatTemplateKind::Mistral);
  EXPECT_EQ(parse_chat_template_name("qwen"), ChatTemplateKind::ChatML);
  EXPECT_EQ(parse_chat_template_name("llama3"), ChatTemplateKind::Llama3);
  EXPECT_EQ(parse_chat_template_name("vicuna"), std::nullopt);
}

TEST(ChatTemplate, FormatsAConversationPerFamily) {
  const std::map<ChatTemplateKind, std::string> want = {
      {ChatTemplateKind::Llama2,
       "[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi! [/INST] Hello. </s><s>[INST] What is 2+2? [/INST]"},
      {ChatTemplateKind::Llama3,
       "<|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
       "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
       "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
       "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
       "<|start_header_id|>assistant<|end_header_id|>\n\n"},
      {ChatTemplateKind::ChatML,
       "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n"
       "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"},
      {ChatTemplateKind::Mistral, " [INST] You are terse.\n\nHi! [/INST] Hello.</s> [INST] What is 2+2? [/INST]"},
      {ChatTemplateKind::MistralV3, "[INST] You are terse.\n\nHi![/INST] Hello.</s>[INST] What is 2+2?[/INST]"},
      {ChatTemplateKind::MistralV3Tekken, "[INST]You are terse.\n\nHi![/INST]Hello.</s>[INST]What is 2+2?[/INST]"},
      {ChatTemplateKind::Gemma,
       "<start_of_turn>user\nYou are terse.\n\nHi!<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n"
       "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n"},
      {ChatTemplateKind::Phi3,
       "<|system|>\nYou are terse.<|end|>\n<|user|>\nHi!<|end|>\n<|assistant|>\nHello.<|end|>\n"
       "<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n"},
  };
  for (const auto& [kind, text] : want) EXPECT_EQ(format_chat(kind, kConversation), text) << chat_template_name(kind);
}

TEST(ChatTemplate, GenerationPromptWhitespaceAndNoSystem) {
  const std::vector<ChatMessage> chat = {{"user", "  Hi!\n"}};
  // Without the generation prompt: the conversation as it stands.
  EXPECT_EQ(format_chat(ChatTemplateKind::ChatML, chat, false), "<|im_start|>user\n  Hi!\n<|im_end|>\n");
  EXPECT_EQ(format_chat(ChatTemplateKind::Gemma, chat, false), "<start_of_turn>user\nHi!<end_of_turn>\n");
  EXPECT_EQ(format_chat(ChatTemplateKind::Llama3, chat, false), "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>");
  // Llama 2 and Mistral have no generation prompt: the text ends with [/INST] either way.
  EXPECT_EQ(format_chat(ChatTemplateKind::Llama2, chat), "[INST] Hi! [/INST]");
  EXPECT_EQ(format_chat(ChatTemplateKind::Llama2, chat, false), "[INST] Hi! [/INST]");
  EXPECT_EQ(format_chat(ChatTemplateKind::MistralV3, chat), "[INST]   Hi!\n[/INST]");
  EXPECT_EQ(format_chat(ChatTemplateKind::Phi3, chat), "<|user|>\n  Hi!\n<|end|>\n<|assistant|>\n");
}

TEST(ChatTemplate, RejectsBadRoles) {
  auto kind_of = [](ChatTemplateKind k, const std::vector<ChatMessage>& m) {
    try {
      format_chat(k, m);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument) << e.what();
      return std::string(e.what());
    }
    return std::string();
  };
  const std::vector<ChatMessage> tool = {{"user", "x"}, {"tool", "y"}};
  for (auto k : {ChatTemplateKind::Llama3, ChatTemplateKind::ChatML, ChatTemplateKind::Gemma})
    EXPECT_NE(kind_of(k, tool).find("unknown role 'tool'"), std::string::npos);
  EXPECT_NE(kind_of(ChatTemplateKind::ChatML, {}).find("no messages"), std::string::npos);
  // Alternation is required by Llama 2, Mistral and Gemma only.
  const std::vector<ChatMessage> two_users = {{"user", "a"}, {"user", "b"}};
  const std::vector<ChatMessage> starts_with_assistant = {{"assistant", "a"}, {"user", "b"}};
  const std::vector<ChatMessage> late_system = {{"user", "a"}, {"assistant", "b"}, {"system", "c"}};
  for (auto k : {ChatTemplateKind::Llama2, ChatTemplateKind::Mistral, ChatTemplateKind::MistralV3,
                 ChatTemplateKind::MistralV3Tekken, ChatTemplateKind::Gemma}) {
    EXPECT_NE(kind_of(k, two_users).find("alternate"), std::string::npos) << chat_template_name(k);
    EXPECT_NE(kind_of(k, starts_with_assistant).find("alternate"), std::string::npos) << chat_template_name(k);
    EXPECT_NE(kind_of(k, late_system).find("system message only as the first"), std::string::npos);
  }
  for (auto k : {ChatTemplateKind::Llama3, ChatTemplateKind::ChatML, ChatTemplateKind::Phi3}) {
    EXPECT_EQ(kind_of(k, two_users), "");
    EXPECT_EQ(kind_of(k, late_system), "");
  }
}

// Vocabularies from ../shared/models/vocab, loaded once.
class VocabTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { registry_ = new PluginRegistry(PluginRegistry::load_default()); }
  static void TearDownTestSuite() {
    tokenizers_.clear();
    delete registry_;
  }
  static const Tokenizer& vocab(const std::string& name) {
    auto& slot = tokenizers_[name];
    if (!slot) {
      const auto file = gguf::GgufFile::open(test::shared_path("models/vocab/ggml-vocab-" + name + ".gguf"));
      slot = std::make_unique<Tokenizer>(Tokenizer::create(*registry_, file));
    }
    return *slot;
  }
  static PluginRegistry* registry_;
  static std::map<std::string, std::unique_ptr<Tokenizer>> tokenizers_;
};
PluginRegistry* VocabTest::registry_ = nullptr;
std::map<std::string, std::unique_ptr<Tokenizer>> VocabTest::tokenizers_;

TEST_F(VocabTest, FormattedChatTokenizesWithOneBos) {
  // Llama 3: <|begin_of_text|> comes from the tokenizer, then the header's control tokens.
  const Tokenizer& llama3 = vocab("llama-bpe");
  const auto ids = llama3.encode(format_chat(ChatTemplateKind::Llama3, kConversation), true, true);
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids[0], llama3.bos());
  EXPECT_NE(ids[1], llama3.bos());
  EXPECT_EQ(std::count(ids.begin(), ids.end(), llama3.bos()), 1);
  EXPECT_EQ(llama3.piece(ids[1], true), "<|start_header_id|>");
  EXPECT_EQ(std::count(ids.begin(), ids.end(), llama3.eot()), 4);

  // Llama 2: BOS once at the start from the tokenizer, and again as "<s>" before the second turn.
  const Tokenizer& llama2 = vocab("llama-spm");
  const auto ids2 = llama2.encode(format_chat(ChatTemplateKind::Llama2, kConversation), true, true);
  EXPECT_EQ(ids2[0], llama2.bos());
  EXPECT_NE(ids2[1], llama2.bos());
  EXPECT_EQ(std::count(ids2.begin(), ids2.end(), llama2.bos()), 2);
  EXPECT_EQ(std::count(ids2.begin(), ids2.end(), llama2.eos()), 1);

  // ChatML (Qwen): no BOS at all; <|im_start|> and <|im_end|> are single tokens.
  const Tokenizer& qwen = vocab("qwen2");
  const auto ids3 = qwen.encode(format_chat(ChatTemplateKind::ChatML, kConversation), true, true);
  EXPECT_EQ(qwen.piece(ids3[0], true), "<|im_start|>");
  EXPECT_EQ(std::count(ids3.begin(), ids3.end(), qwen.eot()), 4);
}

TEST_F(VocabTest, FimPromptUsesTheVocabularysTokens) {
  for (const std::string name : {"deepseek-coder", "starcoder", "refact"}) {
    SCOPED_TRACE(name);
    const Tokenizer& tok = vocab(name);
    ASSERT_GE(tok.fim_pre(), 0);
    ASSERT_GE(tok.fim_suf(), 0);
    ASSERT_GE(tok.fim_mid(), 0);
    const std::string prefix = "def add(a, b):\n    ", suffix = "\n\nprint(add(1, 2))\n";
    const auto ids = build_fim_prompt(tok, prefix, suffix);
    std::vector<int32_t> want;
    if (tok.adds_bos()) want.push_back(tok.bos());
    want.push_back(tok.fim_pre());
    for (int32_t t : tok.encode(prefix, false, false)) want.push_back(t);
    want.push_back(tok.fim_suf());
    for (int32_t t : tok.encode(suffix, false, false)) want.push_back(t);
    want.push_back(tok.fim_mid());
    EXPECT_EQ(ids, want);
    EXPECT_EQ(std::count(ids.begin(), ids.end(), tok.fim_mid()), 1);
    // Empty parts, and FIM token text in the user's code that must stay text.
    EXPECT_EQ(build_fim_prompt(tok, "", "").size(), tok.adds_bos() ? 4u : 3u);
    const std::string mid_text = tok.piece(tok.fim_mid(), true);
    const auto tricky = build_fim_prompt(tok, "x = '" + mid_text + "'", "");
    EXPECT_EQ(std::count(tricky.begin(), tricky.end(), tok.fim_mid()), 1) << mid_text;
    EXPECT_EQ(tricky.back(), tok.fim_mid());
  }
}

TEST_F(VocabTest, FimWithoutFimTokensNamesTheModel) {
  const Tokenizer& tok = vocab("llama-spm");
  try {
    build_fim_prompt(tok, "a", "b", "llama-spm.gguf");
    FAIL() << "no FIM tokens, no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
    const std::string what = e.what();
    EXPECT_NE(what.find("llama-spm.gguf"), std::string::npos) << what;
    EXPECT_NE(what.find("fill-in-the-middle"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace strata
