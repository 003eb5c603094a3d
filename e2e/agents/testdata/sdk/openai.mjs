// The official openai SDK against Polydev: chat (whole and streamed), responses.create, embeddings and
// structured output with a JSON schema.
import OpenAI from 'openai';
import { run, base, token } from './harness.mjs';

const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: token, maxRetries: 0 });
const model = 'openai/gpt-4o-mini';
const messages = [{ role: 'user', content: 'Say hello as JSON.' }];

await run({
  chat: async () => (await client.chat.completions.create({ model, messages })).choices[0].message.content,
  chatStream: async () => {
    const stream = await client.chat.completions.create({ model, messages, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    return text;
  },
  responses: async () => (await client.responses.create({ model, input: 'Say hello as JSON.' })).output_text,
  embeddings: async () => {
    const res = await client.embeddings.create({ model: 'openai/text-embedding-3-small', input: ['hello', 'world'] });
    return { count: res.data.length, dims: res.data[0].embedding.length, promptTokens: res.usage.prompt_tokens };
  },
  jsonSchema: async () => {
    const res = await client.chat.completions.create({
      model, messages,
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'greeting', strict: true,
          schema: { type: 'object', properties: { greeting: { type: 'string' } }, required: ['greeting'], additionalProperties: false },
        },
      },
    });
    return JSON.parse(res.choices[0].message.content);
  },
});
