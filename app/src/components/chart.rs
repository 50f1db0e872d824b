//! Daily charts with leptos-chartistry: one line per series over the days of a report. The
//! chart needs the browser to measure its width, so the server renders a placeholder (the
//! table under every chart carries the same figures for readers without JavaScript).

use leptos::prelude::*;
use leptos_chartistry::*;

use crate::i18n::fmt_day_short;
use crate::tr;

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

/// A line chart of `lines` over `days` (`YYYY-MM-DD`), or an empty state when every value is
/// zero.
#[component]
pub fn DailyChart(
    days: Vec<String>,
    lines: Vec<ChartLine>,
    #[prop(into)] label: String,
    #[prop(optional, into)] test_id: Option<String>,
    /// Values may go below zero (margins); otherwise the axis starts at zero.
    #[prop(optional)]
    signed: bool,
) -> impl IntoView {
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
    let ticks = days.clone();

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
                                    .with_name(name.clone()),
                            )
                        },
                    );
                    let series = if signed { series } else { series.with_min_y(0.0) };
                    let ticks = ticks.clone();
                    let x_labels = TickLabels::aligned_floats().with_format(move |x: &f64, _| {
                        let i = x.round();
                        if (x - i).abs() > 1e-9 || i < 0.0 {
                            return String::new();
                        }
                        ticks.get(i as usize).map(|d| fmt_day_short(d)).unwrap_or_default()
                    });
                    view! {
                        <Chart
                            aspect_ratio=AspectRatio::from_env_width(240.0)
                            series=series
                            data=Signal::stored(data.clone())
                            left=TickLabels::aligned_floats().with_min_chars(6)
                            bottom=vec![x_labels.into_edge(), Legend::start().into_edge()]
                            inner=[
                                AxisMarker::left_edge().into_inner(),
                                AxisMarker::bottom_edge().into_inner(),
                                YGridLine::default().into_inner(),
                                XGuideLine::over_data().into_inner(),
                            ]
                            tooltip=Tooltip::left_cursor()
                        />
                    }
                        .into_any()
                }
            }}
        </figure>
    }
}
