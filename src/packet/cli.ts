// `xlb pcap FILE…`: one line per packet with xlb's decoder, checksum verdicts and decode errors,
// then a summary. For looking at a field capture or a lab capture without Wireshark, with the
// same verdicts the scenarios assert (CHECKSUM_PARTIAL captures show as 'partial', not 'bad').
import { act, command, runCommand } from '../cli-kit.ts';
import { checksumsOf } from './checks.ts';
import type { ChecksumVerdict } from './decoded.ts';
import { describe } from './describe.ts';
import { flowKeyString, flowOf } from './flow.ts';
import { decodeRecord, readPcapFile } from './pcap.ts';

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

interface Opts {
  link?: boolean;
  problems?: boolean;
  json?: boolean;
}

export async function main(argv: string[], print: (line: string) => void = console.log): Promise<number> {
  const cmd = command(
    'pcap',
    "Decodes pcap files (Ethernet, raw IP, Linux cooked SLL/SLL2) with xlb's packet toolkit: one line per packet with checksum verdicts and decode errors, then a summary. Exit 1 when a file cannot be read.",
  )
    .argument('<file...>', 'pcap files')
    .option('--link', 'show Ethernet addresses')
    .option('--problems', 'list only packets with a decode error or a checksum that is not ok/zero/partial')
    .option('-j, --json', 'one JSON object per packet, one per line (JSON Lines: index, time, length, line, flow, checksums, error)');
  act(cmd, () => decodeFiles(cmd.processedArgs[0] as string[], cmd.opts<Opts>(), print));
  return runCommand(cmd, argv);
}

async function decodeFiles(positionals: string[], values: Opts, print: (line: string) => void): Promise<number> {
  let failed = false;
  for (const file of positionals) {
    let pcap;
    try {
      pcap = await readPcapFile(file);
    } catch (e) {
      console.error(`xlb pcap: ${(e as Error).message}`);
      failed = true;
      continue;
    }
    const verdicts: Record<ChecksumVerdict, number> = { ok: 0, bad: 0, zero: 0, partial: 0, unverifiable: 0 };
    let errors = 0;
    if (positionals.length > 1 && values.json !== true) print(`== ${file}`);
    for (const rec of pcap.records) {
      const frame = decodeRecord(rec);
      const checks = checksumsOf(frame);
      for (const c of checks) verdicts[c.verdict]++;
      if (frame.error !== undefined) errors++;
      const problem = frame.error !== undefined || checks.some((c) => c.verdict === 'bad');
      if (values.problems === true && !problem) continue;
      const line = describe(frame, { link: values.link === true });
      const time = `${rec.tsSec}.${pad(Math.floor(rec.tsNsec / 1000), 6)}`;
      if (values.json === true) {
        const flow = flowOf(frame);
        print(
          JSON.stringify({
            file,
            index: rec.index,
            time,
            length: rec.originalLength,
            captured: rec.capturedLength,
            line,
            flow: flow === undefined ? null : flowKeyString(flow),
            checksums: checks.map((c) => ({ layer: c.layer, verdict: c.verdict, value: c.value, expected: c.expected ?? null })),
            error: frame.error ?? null,
          }),
        );
      } else print(`${String(rec.index).padStart(5)} ${time} ${line}`);
    }
    if (values.json !== true) {
      const v = Object.entries(verdicts)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ');
      const cut = pcap.trailingBytes > 0 ? `, ${pcap.trailingBytes} bytes of a cut last record ignored` : '';
      print(
        `${pcap.records.length} packets (link type ${pcap.linkType ?? pcap.linkTypeNumber}, ${pcap.precision} timestamps), ${errors} decode errors; checksums: ${v === '' ? 'none' : v}${cut}`,
      );
    }
  }
  return failed ? 1 : 0;
}
