/* The dashboard's charts (templates/dashboard/dashboard.html), drawn with the vendored Chart.js from the JSON block
   #dashboard-data: no inline script (the CSP forbids it). Money arrives in fen and is shown in yuan. Every chart
   has its table under it, so nothing depends on this file. */
(function () {
  'use strict';
  var source = document.getElementById('dashboard-data');
  if (!source || typeof window.Chart === 'undefined') {
    return;
  }
  var data = JSON.parse(source.textContent);
  var yuan = function (fen) { return fen / 100; };
  var blue = '#2563eb', green = '#16a34a', orange = '#ea580c', grey = '#cbd5e1';

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) {
      config.options = Object.assign({responsive: true, maintainAspectRatio: false, animation: false},
                                     config.options || {});
      canvas.parentNode.classList.add('chart-drawn');
      new window.Chart(canvas, config);
    }
  }

  draw('chart-collection', {
    type: 'doughnut',
    data: {
      labels: [data.labels.received, data.labels.outstanding],
      datasets: [{data: [yuan(data.collection.received_fen), yuan(data.collection.outstanding_fen)],
                  backgroundColor: [green, grey]}]
    }
  });
  draw('chart-aging', {
    type: 'bar',
    data: {labels: data.aging.labels,
           datasets: [{label: data.labels.arrears, data: data.aging.fen.map(yuan), backgroundColor: orange}]},
    options: {plugins: {legend: {display: false}}}
  });
  draw('chart-revenue', {
    type: 'bar',
    data: {labels: data.months,
           datasets: [{label: data.labels.revenue, data: data.revenue_fen.map(yuan), backgroundColor: blue}]}
  });
  draw('chart-repairs', {
    type: 'bar',
    data: {
      labels: data.months,
      datasets: [
        {type: 'bar', label: data.labels.orders, data: data.orders, backgroundColor: grey, yAxisID: 'y'},
        {type: 'line', label: data.labels.rating, data: data.ratings, borderColor: green, backgroundColor: green,
         spanGaps: true, yAxisID: 'rating'}
      ]
    },
    options: {scales: {y: {beginAtZero: true, position: 'left'},
                       rating: {min: 0, max: 5, position: 'right', grid: {drawOnChartArea: false}}}}
  });
}());
