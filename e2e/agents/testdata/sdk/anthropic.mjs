// The official @anthropic-ai/sdk against Polydev: messages (whole and streamed) and countTokens.
import Anthropic from '@anthropic-ai/sdk';
import { run, base, token } from './harness.mjs';

const client = new Anthropic({ baseURL: base, apiKey: token, maxRetries: 0 });
const model = 'anthropic/claude-sonnet-4-5';
const messages = [{ role: 'user', content: 'Say hello.' }];

await run({
  messages: async () => {
    const res = await client.messages.create({ model, max_tokens: 256, messages });
    return res.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
  },
  messagesStream: async () => {
    const stream = client.messages.stream({ model, max_tokens: 256, messages });
    const res = await stream.finalMessage();
    return res.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
  },
  countTokens: async () => (await client.messages.countTokens({ model, messages })).input_tokens,
});
