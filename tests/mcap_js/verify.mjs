// Reads an MCAP file with the independent reader @mcap/core and checks it
// against what the writer says it wrote.
//
// Usage: node verify.mjs FILE EXPECT.json
//
// EXPECT.json: {"truncated": false,
//               "channels": {"/topic": {"messages": N, "schema": "name or empty", "encoding": "json"}},
//               "schemas": ["name", ...]}
//
// Complete file: McapIndexedReader (summary CRC, chunk CRCs, index, statistics)
// and McapStreamReader (every record from the start, chunk CRCs); the data
// section CRC is recomputed here. Truncated file: McapStreamReader only, which
// must yield exactly the messages of the complete chunks and no error.
// Exits 0 with one summary line, or 1 listing every mismatch.

import { open, readFile } from "node:fs/promises";
import { basename } from "node:path";

const [file, expectFile] = process.argv.slice(2);
if (!file || !expectFile) {
  console.error("usage: node verify.mjs FILE EXPECT.json");
  process.exit(2);
}

let McapIndexedReader;
let McapStreamReader;
try {
  ({ McapIndexedReader, McapStreamReader } = await import("@mcap/core"));
} catch (error) {
  console.error(
    `verify.mjs: cannot load @mcap/core (${error.message}); run scripts/setup-npm.sh to install it`,
  );
  process.exit(1);
}

const problems = [];
const problem = (text) => problems.push(text);
const name = basename(file);

const expect = JSON.parse(await readFile(expectFile, "utf8"));
const bytes = new Uint8Array(await readFile(file));

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(data) {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = CRC_TABLE[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

// Counts messages per topic and checks that JSON payloads parse.
function tally(counts, channel, message, reader) {
  if (!channel) {
    problem(`${reader}: message on channel ${message.channelId}, which it does not know`);
    return;
  }
  counts.set(channel.topic, (counts.get(channel.topic) ?? 0) + 1);
  if (channel.messageEncoding === "json") {
    try {
      JSON.parse(decoder.decode(message.data));
    } catch (error) {
      problem(
        `${reader}: ${channel.topic} message at log time ${message.logTime} is not JSON: ${error.message}`,
      );
    }
  }
}

function compareChannels(reader, channels, schemas) {
  const topics = [...channels.values()].map((c) => c.topic).sort();
  const expected = Object.keys(expect.channels).sort();
  if (JSON.stringify(topics) !== JSON.stringify(expected)) {
    problem(`${reader}: channels ${JSON.stringify(topics)}, expected ${JSON.stringify(expected)}`);
  }
  for (const channel of channels.values()) {
    const want = expect.channels[channel.topic];
    if (!want) continue;
    const schemaName = channel.schemaId === 0 ? "" : (schemas.get(channel.schemaId)?.name ?? "<missing>");
    if (schemaName !== want.schema) {
      problem(`${reader}: ${channel.topic} has schema "${schemaName}", expected "${want.schema}"`);
    }
    if (channel.messageEncoding !== want.encoding) {
      problem(
        `${reader}: ${channel.topic} has encoding "${channel.messageEncoding}", expected "${want.encoding}"`,
      );
    }
  }
  const schemaNames = [...schemas.values()].map((s) => s.name).sort();
  const expectedSchemas = [...expect.schemas].sort();
  if (JSON.stringify(schemaNames) !== JSON.stringify(expectedSchemas)) {
    problem(
      `${reader}: schemas ${JSON.stringify(schemaNames)}, expected ${JSON.stringify(expectedSchemas)}`,
    );
  }
}

function compareCounts(reader, counts) {
  for (const [topic, want] of Object.entries(expect.channels)) {
    const got = counts.get(topic) ?? 0;
    if (got !== want.messages) problem(`${reader}: ${topic} has ${got} messages, expected ${want.messages}`);
  }
}

const expectedTotal = Object.values(expect.channels).reduce((sum, c) => sum + c.messages, 0);

// ---- McapStreamReader: every record from the start ----------------------------------------
let streamChunks = 0;
{
  const reader = "McapStreamReader";
  const stream = new McapStreamReader({ validateCrcs: true, includeChunks: true });
  const channels = new Map();
  const schemas = new Map();
  const counts = new Map();
  let header;
  try {
    stream.append(bytes);
    for (let record; (record = stream.nextRecord()); ) {
      switch (record.type) {
        case "Header":
          header = record;
          break;
        case "Schema":
          schemas.set(record.id, record);
          break;
        case "Channel":
          channels.set(record.id, record);
          break;
        case "Chunk":
          streamChunks++;
          break;
        case "Message":
          tally(counts, channels.get(record.channelId), record, reader);
          break;
        default:
          break;
      }
    }
  } catch (error) {
    problem(`${reader}: ${error.message}`);
  }
  if (!header) problem(`${reader}: no Header record`);
  if (stream.done() === expect.truncated) {
    problem(
      expect.truncated
        ? `${reader}: read the file to its Footer, but it should be cut short`
        : `${reader}: stopped before the Footer with ${stream.bytesRemaining()} bytes left`,
    );
  }
  compareChannels(reader, channels, schemas);
  compareCounts(reader, counts);
}

// ---- McapIndexedReader: summary, index, statistics ----------------------------------------
let indexedChunks = 0;
if (!expect.truncated) {
  const reader = "McapIndexedReader";
  const handle = await open(file, "r");
  const readable = {
    size: async () => BigInt((await handle.stat()).size),
    read: async (offset, size) => {
      const buffer = new Uint8Array(Number(size));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, Number(offset));
      if (bytesRead !== buffer.length) {
        throw new Error(`short read at ${offset}: ${bytesRead} of ${size} bytes`);
      }
      return buffer;
    },
  };
  try {
    const indexed = await McapIndexedReader.Initialize({ readable });
    indexedChunks = indexed.chunkIndexes.length;
    compareChannels(reader, indexed.channelsById, indexed.schemasById);

    const counts = new Map();
    let minTime;
    let maxTime;
    let total = 0;
    for await (const message of indexed.readMessages({ validateCrcs: true })) {
      tally(counts, indexed.channelsById.get(message.channelId), message, reader);
      total++;
      if (minTime === undefined || message.logTime < minTime) minTime = message.logTime;
      if (maxTime === undefined || message.logTime > maxTime) maxTime = message.logTime;
    }
    compareCounts(reader, counts);

    const stats = indexed.statistics;
    if (!stats) {
      problem(`${reader}: no Statistics record in the summary`);
    } else {
      const check = (field, got, want) => {
        if (got !== want) problem(`${reader}: statistics ${field} is ${got}, expected ${want}`);
      };
      check("messageCount", stats.messageCount, BigInt(expectedTotal));
      check("messageCount (messages read)", stats.messageCount, BigInt(total));
      check("schemaCount", stats.schemaCount, expect.schemas.length);
      check("channelCount", stats.channelCount, Object.keys(expect.channels).length);
      check("chunkCount", stats.chunkCount, indexed.chunkIndexes.length);
      check("messageStartTime", stats.messageStartTime, minTime ?? 0n);
      check("messageEndTime", stats.messageEndTime, maxTime ?? 0n);
      for (const channel of indexed.channelsById.values()) {
        const want = BigInt(expect.channels[channel.topic]?.messages ?? 0);
        const got = stats.channelMessageCounts.get(channel.id) ?? 0n;
        check(`channelMessageCounts[${channel.topic}]`, got, want);
      }
    }

    if (indexed.dataSectionCrc === undefined) {
      problem(`${reader}: DataEnd has no data section CRC`);
    } else {
      const computed = crc32(bytes.subarray(0, Number(indexed.dataEndOffset)));
      if (computed !== indexed.dataSectionCrc) {
        problem(
          `data section CRC mismatch: stored 0x${indexed.dataSectionCrc.toString(16)}, computed 0x${computed.toString(16)}`,
        );
      }
    }
    if (indexedChunks !== streamChunks) {
      problem(`${reader}: ${indexedChunks} chunk indexes, but the file has ${streamChunks} chunks`);
    }
  } catch (error) {
    problem(`${reader}: ${error.message}`);
  } finally {
    await handle.close();
  }
}

if (problems.length > 0) {
  for (const text of problems) console.error(`verify.mjs: ${name}: ${text}`);
  process.exit(1);
}
const readers = expect.truncated ? "McapStreamReader, cut short as expected" : "McapIndexedReader + McapStreamReader";
console.log(
  `verify.mjs: ${name} OK: ${expectedTotal} messages on ${Object.keys(expect.channels).length} channels, ` +
    `${expect.schemas.length} schemas, ${streamChunks} complete chunks (${readers}; CRCs checked)`,
);
