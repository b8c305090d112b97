DROP TABLE speed_data;
