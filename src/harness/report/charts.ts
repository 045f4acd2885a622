// Distribution charts: connections per backend against the band the spread check accepts. Drawn
// with Apache ECharts' server-side SVG renderer (`ssr: true` + renderToSVGString): no DOM, no
// canvas, no browser, so the chart is made in Node while the report is written and inlined as
// SVG. ECharts over hand-made SVG: axes, ticks, scaling and labels are the library's, and the
// chart is described as data (an option object), not as drawing code.
import * as echarts from 'echarts/core';
import { BarChart, CustomChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TitleComponent } from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';
import type { CustomSeriesRenderItem } from 'echarts/types/dist/echarts.d.ts';
import type { SpreadDetail } from '../expect.ts';
import { raw } from './html.ts';
import type { Markup } from './html.ts';

echarts.use([BarChart, CustomChart, GridComponent, LegendComponent, TitleComponent, SVGRenderer]);

const OK = '#2f7d32';
const BAD = '#c62828';
const BAND = 'rgba(25, 118, 210, 0.22)';

/** Inline SVG in HTML needs no namespace declarations; dropping them keeps the report free of any URL. */
function inlineSvg(svg: string): string {
  return svg.replace(/\s+xmlns(:xlink)?="[^"]*"/g, '');
}

export function spreadChart(d: SpreadDetail, title: string): Markup {
  const names = [...new Set([...Object.keys(d.expected), ...Object.keys(d.observed)])].sort();
  const observed = names.map((n) => d.observed[n] ?? 0);
  const band = names.map((n, i) => [i, d.expected[n]?.lo ?? 0, d.expected[n]?.hi ?? 0, d.expected[n]?.mean ?? 0]);
  const inBand = names.map((n) => {
    const e = d.expected[n];
    const o = d.observed[n] ?? 0;
    return e !== undefined && o >= e.lo - 1e-9 && o <= e.hi + 1e-9;
  });
  const renderBand: CustomSeriesRenderItem = (_params, api) => {
    const i = Number(api.value(0));
    const lo = api.coord([i, Number(api.value(1))]);
    const hi = api.coord([i, Number(api.value(2))]);
    const mean = api.coord([i, Number(api.value(3))]);
    const w = Number((api.size?.([1, 0]) as number[] | undefined)?.[0] ?? 40) * 0.8;
    const x0 = Number(lo[0]) - w / 2;
    return {
      type: 'group',
      children: [
        {
          type: 'rect',
          shape: { x: x0, y: Number(hi[1]) - 1, width: w, height: Math.max(2, Number(lo[1]) - Number(hi[1]) + 2) },
          style: { fill: BAND },
        },
        {
          type: 'line',
          shape: { x1: x0, y1: Number(mean[1]), x2: x0 + w, y2: Number(mean[1]) },
          style: { stroke: '#1565c0', lineWidth: 1, lineDash: [4, 3] },
        },
      ],
    };
  };
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: 420, height: 240 });
  const yMax = Math.max(1, ...observed, ...band.map((b) => b[2] ?? 0));
  chart.setOption({
    animation: false,
    title: { text: title, left: 'center', top: 4, textStyle: { fontSize: 12, fontWeight: 'normal' } },
    legend: { bottom: 0, itemHeight: 10, textStyle: { fontSize: 11 }, data: ['connections', `accepted band (${d.method})`] },
    grid: { left: 44, right: 16, top: 34, bottom: 46 },
    xAxis: { type: 'category', data: names },
    yAxis: { type: 'value', min: 0, max: Math.ceil(yMax * 1.15), minInterval: 1 },
    series: [
      { name: `accepted band (${d.method})`, type: 'custom', renderItem: renderBand, data: band, z: 1, itemStyle: { color: BAND } },
      {
        name: 'connections',
        type: 'bar',
        barWidth: '35%',
        z: 2,
        itemStyle: { color: OK },
        label: { show: true, position: 'top', fontSize: 11 },
        data: observed.map((v, i) =>
          inBand[i] === true
            ? { value: v }
            : { value: v, itemStyle: { color: BAD }, label: { color: BAD, fontWeight: 'bold', formatter: `${v} ✗` } },
        ),
      },
    ],
  });
  const svg = chart.renderToSVGString();
  chart.dispose();
  return raw(inlineSvg(svg));
}
