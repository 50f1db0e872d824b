//! Daily charts with leptos-chartistry: one line per series over the days of a report. The
//! chart needs the browser to measure its width, so the server renders a placeholder (the
//! table under every chart carries the same figures for readers without JavaScript). The
//! legend is plain HTML under the chart, so long names wrap on a phone instead of running off
//! the side, and it reads without JavaScript too.

use leptos::prelude::*;
use leptos_chartistry::*;

use crate::i18n::{fmt_compact, fmt_day, fmt_day_short, fmt_decimal, fmt_money, Locale};
use crate::{tr, use_locale};

/// One day: its position and the value of every series.
#[derive(Clone, Debug, PartialEq)]
struct Point {
    x: f64,
    ys: Vec<f64>,
}

/// A named series of daily values, aligned with the chart's days.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartLine {
    pub name: String,
    pub values: Vec<f64>,
}

impl ChartLine {
    pub fn new(name: impl Into<String>, values: Vec<f64>) -> Self {
        ChartLine {
            name: name.into(),
            values,
        }
    }
}

/// What the values are, for the axis and the tooltip.
#[derive(Clone, Debug, PartialEq)]
pub enum ChartValues {
    /// Requests or tokens: `1.2K` on the axis, `1,234` in the tooltip.
    Count,
    /// Amounts in a currency (ISO code), written by the dashboard's one money rule.
    Money(String),
}

impl ChartValues {
    fn axis(&self, locale: Locale, v: f64) -> String {
        match self {
            ChartValues::Count => fmt_compact(locale, v),
            ChartValues::Money(currency) => fmt_money(v, currency),
        }
    }

    fn exact(&self, v: f64) -> String {
        match self {
            ChartValues::Count => fmt_decimal(v, if v.fract() == 0.0 { 0 } else { 2 }),
            ChartValues::Money(currency) => fmt_money(v, currency),
        }
    }
}

/// The colour of the `i`th line, in the chart and its legend alike.
fn colour(i: usize) -> Colour {
    SERIES_COLOUR_SCHEME[i % SERIES_COLOUR_SCHEME.len()]
}

/// A line chart of `lines` over `days` (`YYYY-MM-DD`), or an empty state when every value is
/// zero.
#[component]
pub fn DailyChart(
    days: Vec<String>,
    lines: Vec<ChartLine>,
    #[prop(into)] label: String,
    values: ChartValues,
    #[prop(optional, into)] test_id: Option<String>,
    /// Values may go below zero (margins); otherwise the axis starts at zero.
    #[prop(optional)]
    signed: bool,
) -> impl IntoView {
    let locale = use_locale();
    let mounted = RwSignal::new(false);
    // Effects only run in the browser: the chart appears once the page is interactive.
    Effect::new(move |_| mounted.set(true));
    let has_data = lines.iter().any(|l| l.values.iter().any(|v| *v != 0.0));
    let data: Vec<Point> = days
        .iter()
        .enumerate()
        .map(|(i, _)| Point {
            x: i as f64,
            ys: lines
                .iter()
                .map(|l| l.values.get(i).copied().unwrap_or(0.0))
                .collect(),
        })
        .collect();
    let names: Vec<String> = lines.iter().map(|l| l.name.clone()).collect();
    let legend = has_data.then(|| {
        view! {
            <ul class="chart-legend">
                {names
                    .iter()
                    .enumerate()
                    .map(|(i, name)| {
                        view! {
                            <li>
                                <span class="chart-swatch" style:background=colour(i).to_string()></span>
                                {name.clone()}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
    });

    let caption = label.clone();
    view! {
        <figure class="chart" data-testid=test_id aria-label=label.clone()>
            <figcaption class="sr-only">{caption}</figcaption>
            {move || {
                if !has_data {
                    view! { <p class="chart-empty">{tr("chart.no_data")}</p> }.into_any()
                } else if !mounted.get() {
                    view! { <p class="chart-empty">{tr("chart.loading")}</p> }.into_any()
                } else {
                    let series = names.iter().enumerate().fold(
                        Series::new(|p: &Point| p.x),
                        |series, (i, name)| {
                            series.line(
                                Line::new(move |p: &Point| p.ys.get(i).copied().unwrap_or(0.0))
                                    .with_name(name.clone())
                                    .with_colour(colour(i)),
                            )
                        },
                    );
                    let series = if signed { series } else { series.with_min_y(0.0) };
                    // Ticks sit on whole days; in between there is nothing to label.
                    let day_at = {
                        let days = days.clone();
                        move |x: f64| {
                            let i = x.round();
                            ((x - i).abs() < 1e-9 && i >= 0.0)
                                .then(|| days.get(i as usize).cloned())
                                .flatten()
                        }
                    };
                    let short_day = day_at.clone();
                    let x_axis = TickLabels::aligned_floats().with_format(move |x: &f64, _| {
                        short_day(*x).map(|d| fmt_day_short(&d)).unwrap_or_default()
                    });
                    let x_tooltip = TickLabels::aligned_floats().with_format(move |x: &f64, _| {
                        day_at(*x).map(|d| fmt_day(locale, &d)).unwrap_or_default()
                    });
                    let (axis_values, tooltip_values) = (values.clone(), values.clone());
                    let y_axis = TickLabels::aligned_floats()
                        .with_min_chars(6)
                        .with_format(move |y: &f64, _| axis_values.axis(locale, *y));
                    let y_tooltip = TickLabels::aligned_floats()
                        .with_format(move |y: &f64, _| tooltip_values.exact(*y));
                    view! {
                        <Chart
                            aspect_ratio=AspectRatio::from_env_width(240.0)
                            series=series
                            data=Signal::stored(data.clone())
                            left=y_axis
                            bottom=x_axis
                            inner=[
                                AxisMarker::left_edge().into_inner(),
                                AxisMarker::bottom_edge().into_inner(),
                                YGridLine::default().into_inner(),
                                XGuideLine::over_data().into_inner(),
                            ]
                            tooltip=Tooltip::new(TooltipPlacement::LeftCursor, x_tooltip, y_tooltip)
                        />
                    }
                        .into_any()
                }
            }}
            {legend}
        </figure>
    }
}
