// The official @google/genai SDK against Polydev's Gemini-native surface: generateContent,
// generateContentStream and countTokens.
import { GoogleGenAI } from '@google/genai';
import { run, base, token } from './harness.mjs';

const ai = new GoogleGenAI({ apiKey: token, httpOptions: { baseUrl: base } });
const model = 'gemini-2.5-flash';
const contents = 'Say hello.';

await run({
  generateContent: async () => (await ai.models.generateContent({ model, contents })).text,
  generateContentStream: async () => {
    let text = '';
    for await (const chunk of await ai.models.generateContentStream({ model, contents })) text += chunk.text ?? '';
    return text;
  },
  countTokens: async () => (await ai.models.countTokens({ model, contents })).totalTokens,
});
