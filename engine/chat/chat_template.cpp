#include "engine/chat/chat_template.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/error.h"

namespace strata {
namespace {

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

std::string_view trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

enum class Role { System, User, Assistant };

Role role_of(const ChatMessage& m, size_t index) {
  if (m.role == "system") return Role::System;
  if (m.role == "user") return Role::User;
  if (m.role == "assistant") return Role::Assistant;
  throw Error(ErrorKind::InvalidArgument, "chat message " + std::to_string(index) + ": unknown role '" + m.role +
                                              "' (expected system, user or assistant)");
}

// Roles of every message, checked. `alternating`: the template allows only an optional leading
// system message followed by user/assistant turns starting with the user.
std::vector<Role> check_roles(ChatTemplateKind kind, std::span<const ChatMessage> messages, bool alternating) {
  if (messages.empty()) throw Error(ErrorKind::InvalidArgument, "chat: no messages");
  std::vector<Role> roles;
  roles.reserve(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) roles.push_back(role_of(messages[i], i));
  if (!alternating) return roles;
  const size_t first = roles[0] == Role::System ? 1 : 0;
  for (size_t i = first; i < roles.size(); ++i) {
    if (roles[i] == Role::System)
      throw Error(ErrorKind::InvalidArgument, "chat message " + std::to_string(i) + ": the " +
                                                  std::string(chat_template_name(kind)) +
                                                  " format allows a system message only as the first message");
    const Role want = (i - first) % 2 == 0 ? Role::User : Role::Assistant;
    if (roles[i] != want)
      throw Error(ErrorKind::InvalidArgument, "chat message " + std::to_string(i) + ": the " +
                                                  std::string(chat_template_name(kind)) +
                                                  " format needs user and assistant messages to alternate, starting "
                                                  "with the user (got '" + messages[i].role + "')");
  }
  return roles;
}

// The formats where each message has a header naming its role and an end marker.
std::string format_headed(ChatTemplateKind kind, std::span<const ChatMessage> messages, bool add_generation_prompt) {
  check_roles(kind, messages, false);
  std::string out;
  for (const auto& m : messages) switch (kind) {
      case ChatTemplateKind::Llama3:
        out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n";
        out += trim(m.content);
        out += "<|eot_id|>";
        break;
      case ChatTemplateKind::ChatML:
        out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
        break;
      default:  // Phi3
        out += "<|" + m.role + "|>\n" + m.content + "<|end|>\n";
        break;
    }
  if (add_generation_prompt) switch (kind) {
      case ChatTemplateKind::Llama3: out += "<|start_header_id|>assistant<|end_header_id|>\n\n"; break;
      case ChatTemplateKind::ChatML: out += "<|im_start|>assistant\n"; break;
      default: out += "<|assistant|>\n"; break;
    }
  return out;
}

// Llama 2: the system message goes inside the first [INST] block between <<SYS>> markers; every
// turn after the first starts with BOS, every answer ends with EOS.
std::string format_llama2(std::span<const ChatMessage> messages) {
  const auto roles = check_roles(ChatTemplateKind::Llama2, messages, true);
  std::string out, system;
  size_t i = 0;
  if (roles[0] == Role::System) system = messages[i++].content;
  bool first = true;
  for (; i < messages.size(); ++i) {
    if (roles[i] == Role::User) {
      std::string content = messages[i].content;
      if (first && roles[0] == Role::System) content = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content;
      out += first ? "[INST] " : "<s>[INST] ";
      out += trim(content);
      out += " [/INST]";
      first = false;
    } else {
      out += " ";
      out += trim(messages[i].content);
      out += " </s>";
    }
  }
  if (first && roles[0] == Role::System)  // only a system message
    out += "[INST] <<SYS>>\n" + std::string(trim(system)) + "\n<</SYS>>\n\n";
  return out;
}

// Mistral's three spacings (see the header); the system message heads the first user message.
std::string format_mistral(ChatTemplateKind kind, std::span<const ChatMessage> messages) {
  const auto roles = check_roles(kind, messages, true);
  const bool v1 = kind == ChatTemplateKind::Mistral, tekken = kind == ChatTemplateKind::MistralV3Tekken;
  const std::string open = v1 ? " [INST] " : tekken ? "[INST]" : "[INST] ";
  const std::string close = v1 ? " [/INST]" : "[/INST]";
  const std::string answer = tekken ? "" : " ";
  std::string out, system;
  size_t i = 0;
  if (roles[0] == Role::System) system = messages[i++].content + "\n\n";
  for (; i < messages.size(); ++i) {
    if (roles[i] == Role::User) {
      out += open;
      out += system;
      system.clear();
      out += messages[i].content;
      out += close;
    } else {
      out += answer;
      out += kind == ChatTemplateKind::MistralV3 ? trim(messages[i].content) : std::string_view(messages[i].content);
      out += "</s>";
    }
  }
  if (!system.empty()) out += open + system;  // only a system message
  return out;
}

// Gemma: user and model turns; no system role, so the system message heads the first user turn.
std::string format_gemma(std::span<const ChatMessage> messages, bool add_generation_prompt) {
  const auto roles = check_roles(ChatTemplateKind::Gemma, messages, true);
  std::string out, system;
  size_t i = 0;
  if (roles[0] == Role::System) system = messages[i++].content + "\n\n";
  for (; i < messages.size(); ++i) {
    out += roles[i] == Role::User ? "<start_of_turn>user\n" : "<start_of_turn>model\n";
    if (roles[i] == Role::User) {
      out += system;
      system.clear();
    }
    out += trim(messages[i].content);
    out += "<end_of_turn>\n";
  }
  if (!system.empty()) out += "<start_of_turn>user\n" + system + "<end_of_turn>\n";  // only a system message
  if (add_generation_prompt) out += "<start_of_turn>model\n";
  return out;
}

constexpr std::array<std::pair<ChatTemplateKind, std::string_view>, 8> kNames = {{
    {ChatTemplateKind::Llama2, "llama-2"},
    {ChatTemplateKind::Llama3, "llama-3"},
    {ChatTemplateKind::ChatML, "chatml"},
    {ChatTemplateKind::Mistral, "mistral-v1"},
    {ChatTemplateKind::MistralV3, "mistral-v3"},
    {ChatTemplateKind::MistralV3Tekken, "mistral-v3-tekken"},
    {ChatTemplateKind::Gemma, "gemma"},
    {ChatTemplateKind::Phi3, "phi-3"},
}};

}  // namespace

std::string_view chat_template_name(ChatTemplateKind kind) {
  for (const auto& [k, name] : kNames)
    if (k == kind) return name;
  return "unknown";
}

std::optional<ChatTemplateKind> parse_chat_template_name(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const auto& [k, n] : kNames)
    if (lower == n) return k;
  if (lower == "llama2") return ChatTemplateKind::Llama2;
  if (lower == "llama3") return ChatTemplateKind::Llama3;
  if (lower == "mistral") return ChatTemplateKind::Mistral;
  if (lower == "qwen") return ChatTemplateKind::ChatML;
  if (lower == "phi3") return ChatTemplateKind::Phi3;
  return std::nullopt;
}

std::optional<ChatTemplateKind> detect_chat_template(std::string_view t) {
  if (contains(t, "<|start_header_id|>") && contains(t, "<|end_header_id|>")) return ChatTemplateKind::Llama3;
  if (contains(t, "<|im_start|>")) return ChatTemplateKind::ChatML;
  if (contains(t, "<start_of_turn>")) return ChatTemplateKind::Gemma;
  if (contains(t, "<|user|>") && contains(t, "<|end|>")) return ChatTemplateKind::Phi3;
  if (contains(t, "[INST]")) {
    if (contains(t, "<<SYS>>")) return ChatTemplateKind::Llama2;
    // Mistral v7 puts the system prompt in its own [SYSTEM_PROMPT] block: a format of its own.
    if (contains(t, "[SYSTEM_PROMPT]")) return std::nullopt;
    // v1 has a space before [/INST] (' [/INST]'); v3-tekken has none inside the quotes around
    // [INST] ("[INST]" + ...); v3 writes '[INST] ' + ... + '[/INST]'.
    if (contains(t, " [/INST]")) return ChatTemplateKind::Mistral;
    if (contains(t, "\"[INST]\"") || contains(t, "'[INST]'")) return ChatTemplateKind::MistralV3Tekken;
    return ChatTemplateKind::MistralV3;
  }
  return std::nullopt;
}

std::string format_chat(ChatTemplateKind kind, std::span<const ChatMessage> messages, bool add_generation_prompt) {
  switch (kind) {
    case ChatTemplateKind::Llama2: return format_llama2(messages);
    case ChatTemplateKind::Llama3:
    case ChatTemplateKind::ChatML:
    case ChatTemplateKind::Phi3: return format_headed(kind, messages, add_generation_prompt);
    case ChatTemplateKind::Mistral:
    case ChatTemplateKind::MistralV3:
    case ChatTemplateKind::MistralV3Tekken: return format_mistral(kind, messages);
    case ChatTemplateKind::Gemma: return format_gemma(messages, add_generation_prompt);
  }
  throw Error(ErrorKind::InvalidArgument, "format_chat: unknown template kind");
}

}  // namespace strata
