// The synthetic GGUF generator: its output parses back with an independent reader written here from
// ggml's docs/gguf.md, carries the exact KV types llama.cpp demands, is deterministic per seed, and a
// broken file is detectably broken.
import t from "tap";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toF16Bits } from "../fixtures/gguf/elements.ts";
import { MODEL_CACHE_DIR, writeCachedModel } from "../fixtures/model-cache.ts";
import { SHAPES, writeModel } from "../fixtures/gguf/model.ts";

type Value = number | bigint | boolean | string | Value[];
interface Parsed {
  version: number;
  kv: Map<string, { type: number; elementType?: number; value: Value }>;
  tensors: { name: string; dims: bigint[]; type: number; offset: bigint }[];
  dataStart: number;
}

function parseGguf(file: Buffer): Parsed {
  let at = 0;
  const need = (n: number) => {
    if (at + n > file.length) throw new Error(`truncated at byte ${at}`);
  };
  const u32 = () => (need(4), (at += 4), file.readUInt32LE(at - 4));
  const u64 = () => (need(8), (at += 8), file.readBigUInt64LE(at - 8));
  const str = () => {
    const n = Number(u64());
    need(n);
    at += n;
    return file.toString("utf8", at - n, at);
  };
  const scalar = (type: number): Value => {
    const readers: Record<number, [number, () => Value]> = {
      0: [1, () => file.readUInt8(at)],
      1: [1, () => file.readInt8(at)],
      2: [2, () => file.readUInt16LE(at)],
      3: [2, () => file.readInt16LE(at)],
      4: [4, () => file.readUInt32LE(at)],
      5: [4, () => file.readInt32LE(at)],
      6: [4, () => file.readFloatLE(at)],
      7: [1, () => file.readUInt8(at) !== 0],
      10: [8, () => file.readBigUInt64LE(at)],
      11: [8, () => file.readBigInt64LE(at)],
      12: [8, () => file.readDoubleLE(at)],
    };
    if (type === 8) return str();
    const reader = readers[type];
    if (!reader) throw new Error(`unknown value type ${type}`);
    need(reader[0]);
    const value = reader[1]();
    at += reader[0];
    return value;
  };
  if (file.toString("latin1", 0, 4) !== "GGUF") throw new Error("bad magic");
  at = 4;
  const version = u32();
  if (version !== 3) throw new Error(`unsupported version ${version}`);
  const tensorCount = Number(u64());
  const kvCount = Number(u64());
  const kv: Parsed["kv"] = new Map();
  for (let i = 0; i < kvCount; i++) {
    const key = str();
    const type = u32();
    if (type === 9) {
      const elementType = u32();
      const count = Number(u64());
      const value = Array.from({ length: count }, () => scalar(elementType));
      kv.set(key, { type, elementType, value });
    } else kv.set(key, { type, value: scalar(type) });
  }
  const tensors: Parsed["tensors"] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = str();
    const nDims = u32();
    const dims = Array.from({ length: nDims }, () => u64());
    tensors.push({ name, dims, type: u32(), offset: u64() });
  }
  const alignment = Number(kv.get("general.alignment")?.value ?? 32);
  return { version, kv, tensors, dataStart: Math.ceil(at / alignment) * alignment };
}

const ELEMENT_BYTES: Record<number, (ne0: number) => number> = {
  0: (n) => n * 4,
  1: (n) => n * 2,
  8: (n) => (n / 32) * 34,
};

function tensorBytes(tensor: Parsed["tensors"][number]): number {
  const [ne0 = 0n, ...rest] = tensor.dims;
  const row = ELEMENT_BYTES[tensor.type];
  if (!row) throw new Error(`${tensor.name}: unexpected ggml type ${tensor.type}`);
  return row(Number(ne0)) * rest.reduce((a, b) => a * Number(b), 1);
}

const dir = await mkdtemp(join(tmpdir(), "slmc-gguf-"));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const generate = async (name: string, seed: number, type: "f16" | "q8_0" = "q8_0") => {
  const path = join(dir, name);
  const model = writeModel({ path, size: "tiny", type, seed });
  return { model, bytes: await readFile(path) };
};

for (const type of ["f16", "q8_0"] as const) {
  t.test(`${type}: header, KV types and tensor layout parse back`, async (t) => {
    const { model, bytes } = await generate(`layout-${type}.gguf`, 7, type);
    const parsed = parseGguf(bytes);
    const shape = SHAPES.tiny;
    t.equal(parsed.version, 3);
    t.equal(bytes.length, model.bytes, "reported size is the file size");
    const kvType = (key: string) => parsed.kv.get(key)?.type;
    t.equal(parsed.kv.get("general.architecture")?.value, "llama");
    t.equal(parsed.kv.get("general.file_type")?.value, type === "q8_0" ? 7 : 1);
    for (const key of [
      "llama.context_length",
      "llama.embedding_length",
      "llama.block_count",
      "llama.feed_forward_length",
      "llama.attention.head_count",
      "llama.rope.dimension_count",
      "tokenizer.ggml.bos_token_id",
      "tokenizer.ggml.eos_token_id",
      "tokenizer.ggml.unknown_token_id",
      "general.alignment",
    ])
      t.equal(kvType(key), 4, `${key} is u32`);
    for (const key of ["llama.attention.layer_norm_rms_epsilon", "llama.rope.freq_base"])
      t.equal(kvType(key), 6, `${key} is f32`);
    t.equal(kvType("tokenizer.ggml.add_bos_token"), 7, "flags are bool");
    t.equal(parsed.kv.get("llama.embedding_length")?.value, shape.embd);
    t.equal(parsed.kv.get("llama.block_count")?.value, shape.layers);

    const tokens = parsed.kv.get("tokenizer.ggml.tokens");
    t.equal(tokens?.elementType, 8, "tokens are an array of strings");
    const list = tokens?.value as string[];
    t.equal(list.length, shape.vocab);
    t.equal(new Set(list).size, list.length, "tokens are unique");
    t.notOk(list.includes(""), "no empty token");
    t.same(list.slice(0, 3), ["<unk>", "<s>", "</s>"]);
    t.equal(list[3 + 0x0a], "<0x0A>", "byte tokens follow the specials");
    t.equal(parsed.kv.get("tokenizer.ggml.scores")?.elementType, 6);
    t.equal((parsed.kv.get("tokenizer.ggml.scores")?.value as number[]).length, shape.vocab);
    const types = parsed.kv.get("tokenizer.ggml.token_type");
    t.equal(types?.elementType, 5, "token types are i32");
    t.same((types?.value as number[]).slice(0, 4), [2, 3, 3, 6]);

    t.equal(parsed.tensors.length, 3 + 9 * shape.layers);
    t.equal(parsed.dataStart % 32, 0);
    const embd = parsed.tensors.find((x) => x.name === "token_embd.weight");
    t.same(
      embd?.dims,
      [BigInt(shape.embd), BigInt(shape.vocab)],
      "token_embd is [n_embd, n_vocab], ne0 first",
    );
    t.equal(parsed.tensors.find((x) => x.name === "blk.1.ffn_down.weight")?.dims[0], BigInt(shape.ff));
    let end = 0;
    for (const tensor of parsed.tensors) {
      const offset = Number(tensor.offset);
      t.equal(offset % 32, 0, `${tensor.name} offset is aligned`);
      t.ok(offset >= end, `${tensor.name} does not overlap the previous tensor`);
      t.equal(tensor.type, tensor.name.endsWith("norm.weight") ? 0 : type === "q8_0" ? 8 : 1);
      end = offset + tensorBytes(tensor);
    }
    t.ok(parsed.dataStart + end <= bytes.length, "every tensor's data lies inside the file");
    t.ok(bytes.length - (parsed.dataStart + end) < 32, "at most alignment padding after the last tensor");
    const norm = parsed.tensors.find((x) => x.name === "output_norm.weight");
    t.equal(bytes.readFloatLE(parsed.dataStart + Number(norm?.offset)), 1, "norm weights are 1.0");
  });
}

t.test("same seed gives the same bytes; another seed does not", async (t) => {
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  const a = sha((await generate("a.gguf", 42)).bytes);
  const b = sha((await generate("b.gguf", 42)).bytes);
  const c = sha((await generate("c.gguf", 43)).bytes);
  t.equal(a, b);
  t.not(a, c);
});

t.test("a broken file is detectably broken", async (t) => {
  const { bytes } = await generate("broken.gguf", 1);
  const wrongMagic = Buffer.from(bytes);
  wrongMagic.write("GGUG", 0, "latin1");
  t.throws(() => parseGguf(wrongMagic), /bad magic/);
  const wrongVersion = Buffer.from(bytes);
  wrongVersion.writeUInt32LE(2, 4);
  t.throws(() => parseGguf(wrongVersion), /version 2/);
  t.throws(() => parseGguf(bytes.subarray(0, 1000)), /truncated/, "a cut header is noticed");
  const parsed = parseGguf(bytes.subarray(0, bytes.length - 64));
  const last = parsed.tensors.at(-1);
  t.ok(last && parsed.dataStart + Number(last.offset) + tensorBytes(last) > bytes.length - 64, "cut data");
});

t.test("f16 rounding follows IEEE binary16", async (t) => {
  t.equal(toF16Bits(1), 0x3c00);
  t.equal(toF16Bits(-2), 0xc000);
  t.equal(toF16Bits(65504), 0x7bff, "largest finite");
  t.equal(toF16Bits(65520), 0x7c00, "rounds up to infinity");
  t.equal(toF16Bits(1 + 2 ** -11), 0x3c00, "tie rounds to even (down)");
  t.equal(toF16Bits(1 + 3 * 2 ** -11), 0x3c02, "tie rounds to even (up)");
  t.equal(toF16Bits(2 ** -24), 0x0001, "smallest subnormal");
  t.equal(toF16Bits(2 ** -26), 0x0000, "underflows to zero");
  t.equal(toF16Bits(NaN) & 0x7c00, 0x7c00);
});

t.test(
  "the model cache hands out writeModel's exact file, written once per size, type and seed",
  async (t) => {
    const seed = 1000 + (process.pid % 1000);
    const key = (name: string) => join(dir, name);
    writeModel({ path: key("direct.gguf"), size: "tiny", type: "q8_0", seed });
    const first = writeCachedModel({ path: key("first.gguf"), size: "tiny", type: "q8_0", seed });
    t.equal(first.path, key("first.gguf"));
    const direct = await readFile(key("direct.gguf"));
    t.ok(direct.equals(await readFile(key("first.gguf"))), "the cached model is byte for byte writeModel's");
    t.equal(first.bytes, direct.length, "its stats are the model's");
    const entries = (await readdir(MODEL_CACHE_DIR)).filter((name) => name.startsWith(`tiny-q8_0-${seed}-`));
    t.equal(entries.length, 1, "one cache entry for this size, type and seed");
    const entry = join(MODEL_CACHE_DIR, entries[0] ?? "");
    const written = (await stat(entry)).mtimeMs;
    writeCachedModel({ path: key("second.gguf"), size: "tiny", type: "q8_0", seed });
    t.equal(
      (await stat(entry)).mtimeMs,
      written,
      "the second request copies the entry, it does not write it again",
    );
    t.ok(direct.equals(await readFile(key("second.gguf"))));
    writeCachedModel({ path: key("other-seed.gguf"), size: "tiny", type: "q8_0", seed: seed + 1 });
    t.notOk(direct.equals(await readFile(key("other-seed.gguf"))), "another seed is another model");
    for (const extra of [seed, seed + 1]) {
      for (const name of await readdir(MODEL_CACHE_DIR))
        if (name.startsWith(`tiny-q8_0-${extra}-`)) await rm(join(MODEL_CACHE_DIR, name), { force: true });
    }
  },
);
