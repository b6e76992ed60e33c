/**
 * Chat templates for GPT-2-family models, which have none of their own:
 * - DialoGPT (microsoft/DialoGPT-*): each turn's text followed by the EOS token; the model
 *   answers and ends its turn with EOS.
 * - any other GPT-2: a plain transcript, "User: …\nAssistant: …\n", ending with "Assistant:";
 *   generation stops where the model starts the next "User:" line.
 * History that does not fit the context window (minus room for the reply) is dropped oldest
 * first; a system message is kept.
 */
import { ConfigError } from '../errors.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** What a template needs from a tokenizer. */
export interface ChatTokenizer {
  encode(text: string): number[];
}

export interface ChatTemplate {
  readonly name: 'dialogpt' | 'plain';
  /** Stop strings that end the assistant's turn (besides EOS). */
  readonly stop: string[];
  /** Prompt token ids for the conversation, at most maxTokens long (oldest turns dropped). */
  render(messages: readonly ChatMessage[], maxTokens: number): number[];
  /** The reply as shown and stored in the history. */
  clean(reply: string): string;
}

function checkMessages(messages: readonly ChatMessage[]): void {
  if (messages.length === 0) throw new ConfigError('chat: no messages');
  for (const [i, m] of messages.entries()) {
    if (!m || !['system', 'user', 'assistant'].includes(m.role) || typeof m.content !== 'string') {
      throw new ConfigError(`chat: message ${i} must be {role: 'system' | 'user' | 'assistant', content: string}`);
    }
  }
}

/** Concatenates per-turn token lists, newest kept first, within maxTokens; the newest turn is cut from the left if needed. */
function fitTurns(head: number[], turns: number[][], tail: number[], maxTokens: number): number[] {
  let budget = maxTokens - head.length - tail.length;
  const kept: number[][] = [];
  for (let i = turns.length - 1; i >= 0; i--) {
    const t = turns[i];
    if (t.length <= budget) { kept.unshift(t); budget -= t.length; continue; }
    if (kept.length === 0 && budget > 0) kept.unshift(t.slice(t.length - budget));
    break;
  }
  const out = [...head, ...kept.flat(), ...tail];
  return out.length > maxTokens ? out.slice(out.length - maxTokens) : out;
}

export function dialoGptTemplate(tok: ChatTokenizer, eosTokenId: number): ChatTemplate {
  return {
    name: 'dialogpt',
    stop: [],
    render(messages, maxTokens) {
      checkMessages(messages);
      const turns = messages.filter((m) => m.role !== 'system').map((m) => [...tok.encode(m.content), eosTokenId]);
      return fitTurns([], turns, [], maxTokens);
    },
    clean: (reply) => reply.trim(),
  };
}

export function plainTemplate(tok: ChatTokenizer): ChatTemplate {
  return {
    name: 'plain',
    stop: ['\nUser:', '\nSystem:'],
    render(messages, maxTokens) {
      checkMessages(messages);
      const system = messages.filter((m) => m.role === 'system').map((m) => m.content).join('\n');
      const head = system ? tok.encode(`${system}\n`) : [];
      const turns = messages.filter((m) => m.role !== 'system')
        .map((m) => tok.encode(`${m.role === 'user' ? 'User' : 'Assistant'}: ${m.content}\n`));
      return fitTurns(head, turns, tok.encode('Assistant:'), maxTokens);
    },
    clean: (reply) => reply.trim(),
  };
}

/** True for DialoGPT checkpoints: by name, or by the conversational task settings in config.json. */
export function isDialoGpt(nameOrPath: string, config?: Record<string, unknown>): boolean {
  if (/dialogpt/i.test(nameOrPath)) return true;
  const tsp = config?.task_specific_params;
  return typeof tsp === 'object' && tsp !== null && 'conversational' in tsp;
}
