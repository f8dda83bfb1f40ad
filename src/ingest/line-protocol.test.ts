import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TidemarkError } from '../errors.ts';
import { IngestBatch } from './batch.ts';
import { decodeLineProtocol } from './line-protocol.ts';

const NOW = 1_700_000_000_000;
const TS = '1700000000000000000'; // NOW in ns

function decode(text: string, precision?: string): IngestBatch {
  const b = new IngestBatch({ now: () => NOW });
  decodeLineProtocol(text, b, { precision });
  return b;
}

function rows(b: IngestBatch): [string, number, number][] {
  return b.toSamples().map((s) => [s.key, s.t, s.value]);
}

describe('line protocol: values and names', () => {
  const cases: { name: string; line: string; want: [string, number][] }[] = [
    { name: 'a float field', line: `cpu usage=98.5 ${TS}`, want: [['cpu_usage', 98.5]] },
    { name: 'floats in every form', line: `m a=1,b=-1.5,c=1e3,d=.5,e=1.,f=-2E-2 ${TS}`, want: [['m_a', 1], ['m_b', -1.5], ['m_c', 1000], ['m_d', 0.5], ['m_e', 1], ['m_f', -0.02]] },
    { name: 'integers and unsigned', line: `m i=-12i,u=12u,big=9223372036854775807i,ubig=18446744073709551615u ${TS}`, want: [['m_i', -12], ['m_u', 12], ['m_big', 9223372036854775807], ['m_ubig', 18446744073709551615]] },
    {
      name: 'every boolean spelling',
      line: `m a=t,b=T,c=true,d=True,e=TRUE,f=f,g=F,h=false,i=False,j=FALSE ${TS}`,
      want: [['m_a', 1], ['m_b', 1], ['m_c', 1], ['m_d', 1], ['m_e', 1], ['m_f', 0], ['m_g', 0], ['m_h', 0], ['m_i', 0], ['m_j', 0]],
    },
    { name: 'tags as labels, sorted', line: `cpu,host=a,cpu=cpu0 idle=1 ${TS}`, want: [['cpu_idle{cpu="cpu0",host="a"}', 1]] },
    { name: 'escaped comma and space in the measurement', line: `my\\ meas\\,x v=1 ${TS}`, want: [['my_meas_x_v', 1]] },
    { name: 'escaped comma, equals and space in tags', line: `m,tag\\ key=a\\,b\\=c\\ d v=1 ${TS}`, want: [['m_v{tag_key="a,b=c d"}', 1]] },
    { name: 'escaped characters in a field key', line: `m f\\ 1\\=x=1 ${TS}`, want: [['m_f_1_x', 1]] },
    { name: 'a double backslash is one backslash', line: `m,path=C:\\\\dir v=1 ${TS}`, want: [['m_v{path="C:\\\\dir"}', 1]] },
    { name: 'a backslash before another character is kept', line: `m,t=a\\b v=1 ${TS}`, want: [['m_v{t="a\\\\b"}', 1]] },
    { name: 'an equals sign in the measurement is literal', line: `a=b v=1 ${TS}`, want: [['a_b_v', 1]] },
    { name: 'the prometheus measurement is left out of the name', line: `prometheus,job=x http_requests_total=5 ${TS}`, want: [['http_requests_total{job="x"}', 5]] },
    { name: 'names sanitised as Telegraf does', line: `disk-io,dev/name=sda reads.total=3 ${TS}`, want: [['disk_io_reads_total{dev_name="sda"}', 3]] },
    { name: 'a tag whose key has no valid character is dropped', line: `m,-=x,ok=y v=1 ${TS}`, want: [['m_v{ok="y"}', 1]] },
    { name: 'several spaces between sections', line: `m v=1    ${TS}   `, want: [['m_v', 1]] },
    { name: 'a string field with an escaped quote is skipped, numbers kept', line: `m msg="say \\"hi\\", ok",v=2 ${TS}`, want: [['m_v', 2]] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const b = decode(c.line);
      assert.deepEqual(
        rows(b).map(([k, , v]) => [k, v]),
        c.want,
      );
      assert.deepEqual(
        b.toSamples().map((s) => s.t),
        c.want.map(() => NOW),
      );
    });
  }

  it('counts skipped string fields as non_numeric_value', () => {
    const b = decode(`m msg="hello",level="warn",v=1 ${TS}`);
    const r = b.rejected.get('non_numeric_value');
    assert.equal(r?.count, 2);
    assert.deepEqual(r?.examples[0], { field: 'line 1: field "msg"', problem: 'string fields are skipped: only numbers and booleans become samples', line: 1 });
  });
});

describe('line protocol: timestamps', () => {
  const cases: { precision: string | undefined; ts: string; t: number }[] = [
    { precision: undefined, ts: '1700000000123456789', t: 1700000000123 },
    { precision: 'ns', ts: '1700000000123999999', t: 1700000000123 },
    { precision: 'n', ts: '999999', t: 0 },
    { precision: 'us', ts: '1700000000123456', t: 1700000000123 },
    { precision: 'u', ts: '1700000000123456', t: 1700000000123 },
    { precision: 'ms', ts: '1700000000123', t: 1700000000123 },
    { precision: 's', ts: '1700000000', t: 1700000000000 },
    { precision: 'm', ts: '28333333', t: 28333333 * 60_000 },
    { precision: 'h', ts: '472222', t: 472222 * 3_600_000 },
  ];
  for (const c of cases) {
    it(`precision ${c.precision ?? '(default ns)'}: ${c.ts}`, () => {
      assert.deepEqual(rows(decode(`m v=1 ${c.ts}`, c.precision)), [['m_v', c.t, 1]]);
    });
  }

  it('uses now for lines without a timestamp', () => {
    assert.deepEqual(rows(decode('m v=1\nm w=2  \n')), [
      ['m_v', NOW, 1],
      ['m_w', NOW, 2],
    ]);
  });

  it('rejects negative timestamps through the shared validation', () => {
    const b = decode('m v=1 -1000000000');
    assert.equal(b.rejected.get('invalid_timestamp')?.count, 1);
  });

  for (const bad of ['fortnight', '__proto__', 'toString']) {
    it(`refuses the precision ${JSON.stringify(bad)}`, () => {
      assert.throws(
        () => decode('m v=1', bad),
        (e: unknown) => e instanceof TidemarkError && e.code === 'TM_ERR_INPUT' && e.path === 'precision' && /valid: ns, us, ms, s, m, h/.test(e.message),
      );
    });
  }
});

describe('line protocol: structure', () => {
  it('skips comments, blank lines, indentation and CRLF line ends', () => {
    const b = decode(`# a comment\r\n\r\n   \n\tm v=1 ${TS}\r\n  # indented comment\nm w=2 ${TS}\r\n`);
    assert.deepEqual(
      rows(b).map((x) => x[0]),
      ['m_v', 'm_w'],
    );
    assert.equal(b.rejectedTotal, 0);
  });

  it('lets a string field span lines and keeps line numbers right', () => {
    const b = decode(`m msg="line one\nline two",v=1 ${TS}\nbad\nm w=2 ${TS}`);
    assert.deepEqual(
      rows(b).map((x) => x[0]),
      ['m_v', 'm_w'],
    );
    assert.equal(b.rejected.get('malformed_line')?.examples[0].line, 3);
  });

  const malformed: { name: string; line: string; problem: RegExp }[] = [
    { name: 'no fields', line: 'cpu,host=a', problem: /missing fields/ },
    { name: 'no fields after a space', line: 'cpu ', problem: /missing fields/ },
    { name: 'a field without a value', line: 'cpu v=', problem: /missing field value/ },
    { name: 'a field without =', line: 'cpu v', problem: /field key "v" has no '=value'/ },
    { name: 'a tag without a value', line: 'cpu,host= v=1', problem: /missing tag value/ },
    { name: 'a tag without =', line: 'cpu,host v=1', problem: /tag key "host" has no '=value'/ },
    { name: 'an unescaped = in a tag value', line: 'cpu,host=a=b v=1', problem: /unescaped '=' in tag value/ },
    { name: 'a missing measurement', line: ',host=a v=1', problem: /missing measurement/ },
    { name: 'an invalid number', line: 'cpu v=1.2.3', problem: /invalid field value "1\.2\.3"/ },
    { name: 'a hexadecimal number', line: 'cpu v=0x10', problem: /invalid field value/ },
    { name: 'NaN', line: 'cpu v=NaN', problem: /invalid field value "NaN"/ },
    { name: 'an integer out of range', line: 'cpu v=9223372036854775808i', problem: /out of the int64 range/ },
    { name: 'a negative unsigned', line: 'cpu v=-1u', problem: /invalid unsigned field value/ },
    { name: 'a bad timestamp', line: 'cpu v=1 12:00', problem: /invalid timestamp "12:00"/ },
    { name: 'a timestamp out of range', line: 'cpu v=1 99999999999999999999', problem: /out of the int64 range/ },
    { name: 'text after the timestamp', line: `cpu v=1 ${TS} extra`, problem: /unexpected text after the timestamp/ },
    { name: 'an unterminated string', line: 'cpu msg="open', problem: /unterminated string field value/ },
    { name: 'text glued to a string', line: 'cpu msg="x"y=1', problem: /unexpected "y" after field value/ },
  ];
  for (const c of malformed) {
    it(`rejects a line with ${c.name}, keeping the lines around it`, () => {
      const b = decode(`ok a=1 ${TS}\n${c.line}\nok b=2 ${TS}\n`);
      assert.deepEqual(
        rows(b).map((x) => x[0]),
        ['ok_a', 'ok_b'],
      );
      const r = b.rejected.get('malformed_line');
      assert.equal(r?.count, 1);
      assert.equal(r?.examples[0].line, 2);
      assert.equal(r?.examples[0].field, 'line 2');
      assert.match(r?.examples[0].problem ?? '', c.problem);
    });
  }

  it('rejects a line with thousands of tags quickly, through the shared label limit', () => {
    const tags = Array.from({ length: 20000 }, (_, i) => `t${i}=v`).join(',');
    const t0 = performance.now();
    const b = decode(`m,${tags} a=1,b=2 ${TS}\nok v=1 ${TS}`);
    assert.ok(performance.now() - t0 < 500);
    assert.deepEqual(
      rows(b).map((x) => x[0]),
      ['ok_v'],
    );
    assert.equal(b.rejected.get('too_many_labels')?.count, 2);
  });

  it('rejects a field name that sanitises to nothing', () => {
    const b = decode(`- -=1 ${TS}`);
    assert.equal(b.rejected.get('missing_metric_name')?.count, 1);
  });

  it('decodes bytes as UTF-8', () => {
    const b = new IngestBatch({ now: () => NOW });
    decodeLineProtocol(Buffer.from(`weather,city=Zürich temp=21.5 ${TS}\n`), b);
    assert.deepEqual(rows(b), [['weather_temp{city="Zürich"}', NOW, 21.5]]);
  });
});
