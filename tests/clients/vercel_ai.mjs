// Drive the Vercel AI SDK against kirogate: one run, its result as one JSON line on stdout.
// Usage: node vercel_ai.mjs <anthropic|openai-chat|openai-responses> <generate|stream> <baseURL> <prompt>
// The API key comes from KIROGATE_CLIENT_KEY; the tool loop stops after 3 steps.
import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";

const [route, mode, baseURL, prompt] = process.argv.slice(2);
const apiKey = process.env.KIROGATE_CLIENT_KEY;
const modelId = process.env.KIROGATE_MODEL || "claude-sonnet-4-6";

function model() {
  if (route === "anthropic") return createAnthropic({ baseURL: `${baseURL}/v1`, apiKey })(modelId);
  const openai = createOpenAI({ baseURL: `${baseURL}/v1`, apiKey });
  if (route === "openai-chat") return openai.chat(modelId);
  if (route === "openai-responses") return openai.responses(modelId);
  throw new Error(`unknown route ${route}`);
}

const calls = [];
const tools = {
  lookup: tool({
    description: "Look up a city's weather",
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      calls.push(city);
      return `sunny in ${city} (call ${calls.length})`;
    },
  }),
};

async function main() {
  const options = { model: model(), tools, stopWhen: stepCountIs(3), prompt, maxRetries: 0 };
  let text, steps, finishReason;
  if (mode === "stream") {
    const errors = [];
    const result = streamText({ ...options, onError: ({ error }) => errors.push(String(error?.message ?? error)) });
    let streamed = "";
    for await (const delta of result.textStream) streamed += delta;
    if (errors.length) throw new Error(errors.join("; "));
    text = streamed;
    steps = await result.steps;
    finishReason = await result.finishReason;
  } else {
    const result = await generateText(options);
    ({ text, steps, finishReason } = result);
  }
  const summary = steps.map((s) => ({ toolCalls: s.toolCalls.length, finishReason: s.finishReason }));
  console.log(JSON.stringify({ text, steps: summary, finishReason, calls }));
}

main().catch((error) => {
  const detail = { error: String(error?.message ?? error), status: error?.statusCode, body: error?.responseBody };
  console.log(JSON.stringify(detail));
  process.exit(1);
});
